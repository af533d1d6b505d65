"""The Market models whose ``input`` the emulator checks like KIE does; any other model name is accepted.

Sources (read 2026-06/07): KIE's per-model pages under ``https://docs.kie.ai/market/<family>/<model>``
(the URL pattern was confirmed on https://docs.kie.ai/market/kling/text-to-video and
https://docs.kie.ai/market/hailuo/02-text-to-video-pro, Kling 2.5's ``v25-turbo-...`` slugs from KIE's sitemap
as public repositories quote it; the page text was read from KIE's OpenAPI exports as mirrored in public
repositories, e.g. henjicc/Henji-AI ``docs/api/KIE/Video Models``), and KIE's price list
(https://kie.ai/pricing, snapshot of 2026-06-30 in the same mirror) converted at KIE's rate of 1 credit =
$0.005 (Runway 5 s 720p: $0.06 = 12 credits). Prices marked *illustrative* are not in that snapshot.

What the pages do not say, the emulator assumes and marks as such: output pixel sizes (KIE never states
them), the resolution of models without a resolution field, and the length of a Topaz source video.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kie.emulator.market_rules import (
    Field,
    MarketModel,
    Price,
    choice,
    fixed,
    flag,
    forbid,
    number,
    one_of_required,
    text,
    url,
    urls,
)

DOCS = "https://docs.kie.ai/market"

# -- shared field shapes ------------------------------------------------------------------------------------
_5_OR_10 = ("5", "10")
_RATIO_3 = ("16:9", "9:16", "1:1")


def _cfg_scale() -> Field:
    return number("cfg_scale", minimum=0, maximum=1)


def _duration(*values: str, default: str | None, required: bool = False) -> Field:
    return choice("duration", *values, default=default, required=required, role="duration")


def _aspect(*values: str, default: str | None, required: bool = False, name: str = "aspect_ratio") -> Field:
    return choice(name, *values, default=default, required=required, role="aspect")


def _resolution(*values: str, default: str | None, required: bool = False) -> Field:
    return choice("resolution", *values, default=default, required=required, role="resolution")


def _by_duration(table: Mapping[str, float]) -> Price:
    return Price(("duration",), {(d,): c for d, c in table.items()})


# -- Kling ----------------------------------------------------------------------------------------------
def _kling() -> list[MarketModel]:
    # kling 2.6: $0.275 / $0.55 per 5 s without / with sound; 10 s doubles.
    kling26_price = Price(
        ("duration", "sound"),
        {("5", "false"): 55, ("5", "true"): 110, ("10", "false"): 110, ("10", "true"): 220},
    )
    kling26_common = (
        text("prompt", required=True, max_length=1000),
        flag("sound", required=True),
        _duration(*_5_OR_10, default="5", required=True),
    )
    # Kling's pages give no output resolution: 720p is assumed for 2.6 and the 2.1 standard tier, 1080p for
    # the "pro"/"master" tiers (Kling's own naming).
    hd: Mapping[str, Any] = {"resolution": "1080p"}
    sd: Mapping[str, Any] = {"resolution": "720p"}
    kling21_tail = (
        _duration(*_5_OR_10, default="5"),
        text("negative_prompt", max_length=500),
        _cfg_scale(),
    )
    return [
        MarketModel(
            "kling-2.6/text-to-video",
            "kling",
            f"{DOCS}/kling/text-to-video",
            (*kling26_common, _aspect("1:1", "16:9", "9:16", default="1:1", required=True)),
            kling26_price,
            shape_defaults=sd,
        ),
        MarketModel(
            "kling-2.6/image-to-video",
            "kling",
            f"{DOCS}/kling/image-to-video",
            (*kling26_common, urls("image_urls", required=True, max_items=1)),
            kling26_price,
            shape_defaults=sd,
        ),
        MarketModel(
            "kling/v2-5-turbo-text-to-video-pro",
            "kling",
            f"{DOCS}/kling/v25-turbo-text-to-video-pro",
            (
                text("prompt", required=True, max_length=2500),
                _duration(*_5_OR_10, default="5"),
                _aspect(*_RATIO_3, default="16:9"),
                text("negative_prompt", max_length=2500),
                _cfg_scale(),
            ),
            _by_duration({"5": 42, "10": 84}),
            shape_defaults=hd,
        ),
        MarketModel(
            "kling/v2-5-turbo-image-to-video-pro",
            "kling",
            f"{DOCS}/kling/v25-turbo-image-to-video-pro",
            (
                text("prompt", required=True, max_length=2500),
                url("image_url", required=True),
                url("tail_image_url"),
                _duration(*_5_OR_10, default="5"),
                text("negative_prompt", max_length=2496),
                _cfg_scale(),
            ),
            _by_duration({"5": 42, "10": 84}),
            shape_defaults=hd,
        ),
        MarketModel(
            "kling/v2-1-master-text-to-video",
            "kling",
            f"{DOCS}/kling/v2-1-master-text-to-video",
            (
                text("prompt", required=True, max_length=5000),
                _aspect(*_RATIO_3, default="16:9"),
                *kling21_tail,
            ),
            _by_duration({"5": 160, "10": 320}),
            shape_defaults=hd,
        ),
        MarketModel(
            "kling/v2-1-master-image-to-video",
            "kling",
            f"{DOCS}/kling/v2-1-master-image-to-video",
            (text("prompt", required=True, max_length=5000), url("image_url", required=True), *kling21_tail),
            _by_duration({"5": 160, "10": 320}),
            shape_defaults=hd,
        ),
        MarketModel(
            "kling/v2-1-pro",
            "kling",
            f"{DOCS}/kling/v2-1-pro",
            (
                text("prompt", required=True, max_length=5000),
                url("image_url", required=True),
                url("tail_image_url"),
                *kling21_tail,
            ),
            _by_duration({"5": 50, "10": 100}),
            shape_defaults=hd,
        ),
        MarketModel(
            "kling/v2-1-standard",
            "kling",
            f"{DOCS}/kling/v2-1-standard",
            (text("prompt", required=True, max_length=5000), url("image_url", required=True), *kling21_tail),
            _by_duration({"5": 25, "10": 50}),
            shape_defaults=sd,
        ),
    ]


# -- Sora 2 -----------------------------------------------------------------------------------------------
def _sora2() -> list[MarketModel]:
    # Fields from KIE's generated model docs (kie.ai model pages, mirrored in lantianlaoli/flowtra
    # docs/kie/sora2_pro.md and artykrd/ai-bot-misha docs/sora.md); the docs.kie.ai URL below follows the
    # Market pattern but was not seen directly. n_frames "10"/"15" are seconds. Sora 2: $0.015/s (KIE's Sora
    # page); Pro standard $0.045/s; Pro high $0.10/s is illustrative (a range is quoted).
    common = (
        text("prompt", required=True, max_length=10000),
        _aspect("portrait", "landscape", default="landscape"),
        choice("n_frames", "10", "15", default="10", role="duration"),
        flag("remove_watermark"),
    )
    size = choice("size", "standard", "high", default="standard", role="resolution")
    image = urls("image_urls", required=True)
    basic = Price(("n_frames",), {("10",): 30, ("15",): 45})
    pro = Price(
        ("n_frames", "size"),
        {("10", "standard"): 90, ("15", "standard"): 135, ("10", "high"): 200, ("15", "high"): 300},
    )
    sizes = {"resolution": {"standard": "720p", "high": "1080p"}}
    sd: Mapping[str, Any] = {"resolution": "720p"}
    return [
        MarketModel(
            "sora-2-text-to-video",
            "sora2",
            f"{DOCS}/sora2/sora-2-text-to-video",
            common,
            basic,
            shape_defaults=sd,
        ),
        MarketModel(
            "sora-2-image-to-video",
            "sora2",
            f"{DOCS}/sora2/sora-2-image-to-video",
            (*common, image),
            basic,
            shape_defaults=sd,
        ),
        MarketModel(
            "sora-2-pro-text-to-video",
            "sora2",
            f"{DOCS}/sora2/sora-2-pro-text-to-video",
            (*common, size),
            pro,
            value_aliases=sizes,
        ),
        MarketModel(
            "sora-2-pro-image-to-video",
            "sora2",
            f"{DOCS}/sora2/sora-2-pro-image-to-video",
            (*common, size, image),
            pro,
            value_aliases=sizes,
        ),
    ]


# -- Wan --------------------------------------------------------------------------------------------------
def _wan() -> list[MarketModel]:
    wan26_price = Price(
        ("duration", "resolution"),
        {
            ("5", "720p"): 70,
            ("10", "720p"): 140,
            ("15", "720p"): 210,
            ("5", "1080p"): 104.5,
            ("10", "1080p"): 209.5,
            ("15", "1080p"): 315,
        },
    )
    wan26 = (
        _duration("5", "10", "15", default="5"),
        _resolution("720p", "1080p", default="1080p"),
        flag("nsfw_checker"),
    )
    # Wan 2.5 documents no default resolution: 720p is assumed (it prices the request).
    wan25_price = Price(
        ("duration", "resolution"),
        {("5", "720p"): 60, ("10", "720p"): 120, ("5", "1080p"): 100, ("10", "1080p"): 200},
    )
    wan25 = (
        _duration(*_5_OR_10, default=None, required=True),
        _resolution("720p", "1080p", default="720p"),
        text("negative_prompt", max_length=500),
        flag("enable_prompt_expansion"),
        number("seed", integer=True),
    )
    # Wan 2.2 A14B Turbo: priced per 5 s clip by resolution; the page has no duration field (5 s).
    turbo_price = Price(("resolution",), {("480p",): 40, ("580p",): 60, ("720p",): 80})
    turbo = (
        text("prompt", required=True, max_length=5000),
        _resolution("480p", "720p", default="720p"),
        flag("enable_prompt_expansion"),
        number("seed", minimum=0, maximum=2147483647),
        choice("acceleration", "none", "regular", default="none"),
    )
    five_s: Mapping[str, Any] = {"duration": 5}
    return [
        MarketModel(
            "wan/2-6-text-to-video",
            "wan",
            f"{DOCS}/wan/2-6-text-to-video",
            (text("prompt", required=True, max_length=5000), *wan26),
            wan26_price,
        ),
        MarketModel(
            "wan/2-6-image-to-video",
            "wan",
            f"{DOCS}/wan/2-6-image-to-video",
            (
                text("prompt", required=True, max_length=5000),
                urls("image_urls", required=True, max_items=1),
                *wan26,
            ),
            wan26_price,
        ),
        MarketModel(
            "wan/2-5-text-to-video",
            "wan",
            f"{DOCS}/wan/2-5-text-to-video",
            (text("prompt", required=True, max_length=800), _aspect(*_RATIO_3, default=None), *wan25),
            wan25_price,
        ),
        MarketModel(
            "wan/2-5-image-to-video",
            "wan",
            f"{DOCS}/wan/2-5-image-to-video",
            (text("prompt", required=True, max_length=800), url("image_url", required=True), *wan25),
            wan25_price,
        ),
        MarketModel(
            "wan/2-2-a14b-text-to-video-turbo",
            "wan",
            f"{DOCS}/wan/2-2-a14b-text-to-video-turbo",
            (*turbo, _aspect("16:9", "9:16", default="16:9")),
            turbo_price,
            shape_defaults=five_s,
        ),
        MarketModel(
            "wan/2-2-a14b-image-to-video-turbo",
            "wan",
            f"{DOCS}/wan/2-2-a14b-image-to-video-turbo",
            (url("image_url", required=True), *turbo),
            turbo_price,
            shape_defaults=five_s,
        ),
    ]


# -- Hailuo -----------------------------------------------------------------------------------------------
def _hailuo() -> list[MarketModel]:
    no_10s_1080p = forbid(
        "resolution", "1080P", when="duration", equals="10", reason="1080P does not support a 10 s video"
    )
    v23 = (
        text("prompt", required=True, max_length=5000),
        url("image_url", required=True),
        _duration("6", "10", default="6"),
        _resolution("768P", "1080P", default="768P"),
        flag("nsfw_checker"),
    )
    v23_pro = Price(("duration", "resolution"), {("6", "768p"): 45, ("10", "768p"): 90, ("6", "1080p"): 80})
    v23_std = Price(("duration", "resolution"), {("6", "768p"): 30, ("10", "768p"): 50, ("6", "1080p"): 50})
    v02_prompt = text("prompt", required=True, max_length=1500)
    # Hailuo 02 pro is priced as "Pro-6.0s-1080p" and has no duration/resolution field: 6 s 1080p.
    pro_shape: Mapping[str, Any] = {"duration": 6, "resolution": "1080p"}
    return [
        MarketModel(
            "hailuo/02-text-to-video-pro",
            "hailuo",
            f"{DOCS}/hailuo/02-text-to-video-pro",
            (v02_prompt, flag("prompt_optimizer"), flag("nsfw_checker")),
            fixed(57),
            shape_defaults=pro_shape,
        ),
        MarketModel(
            "hailuo/02-image-to-video-pro",
            "hailuo",
            f"{DOCS}/hailuo/02-image-to-video-pro",
            (v02_prompt, url("image_url", required=True), url("end_image_url"), flag("prompt_optimizer")),
            fixed(57),
            shape_defaults=pro_shape,
        ),
        MarketModel(
            "hailuo/02-text-to-video-standard",
            "hailuo",
            f"{DOCS}/hailuo/02-text-to-video-standard",
            (v02_prompt, _duration("6", "10", default="6"), flag("prompt_optimizer")),
            _by_duration({"6": 30, "10": 50}),
            shape_defaults={"resolution": "768p"},
        ),
        MarketModel(
            "hailuo/02-image-to-video-standard",
            "hailuo",
            f"{DOCS}/hailuo/02-image-to-video-standard",
            (
                v02_prompt,
                url("image_url", required=True),
                url("end_image_url"),
                _duration("6", "10", default="10"),
                _resolution("512P", "768P", default="768P"),
                flag("prompt_optimizer"),
            ),
            Price(
                ("duration", "resolution"),
                {("6", "512p"): 12, ("10", "512p"): 20, ("6", "768p"): 30, ("10", "768p"): 50},
            ),
        ),
        MarketModel(
            "hailuo/2-3-image-to-video-pro",
            "hailuo",
            f"{DOCS}/hailuo/2-3-image-to-video-pro",
            v23,
            v23_pro,
            checks=(no_10s_1080p,),
        ),
        MarketModel(
            "hailuo/2-3-image-to-video-standard",
            "hailuo",
            f"{DOCS}/hailuo/2-3-image-to-video-standard",
            v23,
            v23_std,
            checks=(no_10s_1080p,),
        ),
    ]


# -- Seedance (ByteDance) ---------------------------------------------------------------------------------
def _seedance() -> list[MarketModel]:
    # V1 models are not in the price snapshot: illustrative per-clip prices by resolution and duration.
    v1_price = Price(
        ("resolution", "duration"),
        {
            ("480p", "5"): 14,
            ("480p", "10"): 28,
            ("720p", "5"): 30,
            ("720p", "10"): 60,
            ("1080p", "5"): 70,
            ("1080p", "10"): 140,
        },
    )
    v1_tail = (
        _duration(*_5_OR_10, default="5"),
        flag("camera_fixed"),
        number("seed", minimum=-1, maximum=2147483647),
        flag("enable_safety_checker"),
        flag("nsfw_checker"),
    )
    prompt = text("prompt", required=True, max_length=10000)
    res3 = _resolution("480p", "720p", "1080p", default="720p")
    # Seedance 1.5 Pro: per second, by resolution and audio ($0.00875/s at 480p without audio ...).
    v15_price = Price(
        ("resolution", "generate_audio"),
        {
            ("480p", "false"): 1.75,
            ("480p", "true"): 3.5,
            ("720p", "false"): 3.5,
            ("720p", "true"): 7,
            ("1080p", "false"): 7.5,
            ("1080p", "true"): 15,
        },
        per_second=True,
    )
    return [
        MarketModel(
            "bytedance/v1-pro-text-to-video",
            "seedance",
            f"{DOCS}/bytedance/v1-pro-text-to-video",
            (prompt, _aspect("21:9", "16:9", "4:3", "1:1", "3:4", "9:16", default="16:9"), res3, *v1_tail),
            v1_price,
        ),
        MarketModel(
            "bytedance/v1-pro-image-to-video",
            "seedance",
            f"{DOCS}/bytedance/v1-pro-image-to-video",
            (prompt, url("image_url", required=True), res3, *v1_tail),
            v1_price,
        ),
        MarketModel(
            "bytedance/v1-pro-fast-image-to-video",
            "seedance",
            f"{DOCS}/bytedance/v1-pro-fast-image-to-video",
            (
                prompt,
                url("image_url", required=True),
                _resolution("720p", "1080p", default="720p"),
                _duration(*_5_OR_10, default="5"),
                flag("nsfw_checker"),
            ),
            v1_price,
        ),
        MarketModel(
            "bytedance/v1-lite-text-to-video",
            "seedance",
            f"{DOCS}/bytedance/v1-lite-text-to-video",
            (prompt, _aspect("16:9", "4:3", "1:1", "3:4", "9:16", "9:21", default="16:9"), res3, *v1_tail),
            v1_price,
        ),
        MarketModel(
            "bytedance/v1-lite-image-to-video",
            "seedance",
            f"{DOCS}/bytedance/v1-lite-image-to-video",
            (prompt, url("image_url", required=True), url("end_image_url"), res3, *v1_tail),
            v1_price,
        ),
        MarketModel(
            "bytedance/seedance-1.5-pro",
            "seedance",
            f"{DOCS}/bytedance/seedance-1.5-pro",
            (
                text("prompt", required=True, max_length=20000),
                urls("input_urls", max_items=2),
                _aspect("1:1", "4:3", "3:4", "16:9", "9:16", "21:9", default="1:1", required=True),
                res3,
                number("duration", minimum=4, maximum=12, required=True, role="duration"),
                flag("fixed_lens"),
                flag("generate_audio", default=False),
                flag("nsfw_checker"),
            ),
            v15_price,
        ),
    ]


# -- Grok Imagine -----------------------------------------------------------------------------------------
def _grok() -> list[MarketModel]:
    # The pages type duration as a number (6-30) while their own examples send "6": both are accepted.
    duration = number("duration", minimum=6, maximum=30, default=6, numeric_string=True, role="duration")
    resolution = _resolution("480p", "720p", default="480p")
    ratios = ("2:3", "3:2", "1:1", "16:9", "9:16")
    modes = choice("mode", "fun", "normal", "spicy", default="normal")
    per_second = Price(("resolution",), {("480p",): 1.6, ("720p",): 3}, per_second=True)
    return [
        MarketModel(
            "grok-imagine/text-to-video",
            "grok-imagine",
            f"{DOCS}/grok-imagine/text-to-video",
            (
                text("prompt", required=True, max_length=5000),
                _aspect(*ratios, default="2:3"),
                modes,
                duration,
                resolution,
                flag("nsfw_checker"),
            ),
            per_second,
        ),
        MarketModel(
            "grok-imagine/image-to-video",
            "grok-imagine",
            f"{DOCS}/grok-imagine/image-to-video",
            (
                urls("image_urls", max_items=7),
                text("task_id", max_length=100),
                number("index", minimum=0, maximum=5, integer=True),
                text("prompt", max_length=5000),
                modes,
                duration,
                resolution,
                _aspect(*ratios, default="16:9"),
                flag("nsfw_checker"),
            ),
            per_second,
            checks=(
                one_of_required("image_urls", "task_id"),
                forbid(
                    "mode",
                    "spicy",
                    when="image_urls",
                    equals=Ellipsis,
                    reason="spicy is not available with external images (image_urls)",
                ),
            ),
        ),
        # An image model, listed because KIE documents several results per task (6 images, priced
        # "$0.02 per 6 images"): the built-in way to get several resultUrls.
        MarketModel(
            "grok-imagine/text-to-image",
            "grok-imagine",
            f"{DOCS}/grok-imagine/text-to-image",
            (
                text("prompt", required=True, max_length=5000),
                _aspect(*ratios, default="1:1"),
                flag("enable_pro"),
                flag("nsfw_checker"),
            ),
            fixed(4),
            outputs=6,
            media="image",
        ),
    ]


# -- Topaz ------------------------------------------------------------------------------------------------
def _topaz() -> list[MarketModel]:
    # Priced per second of the source ($0.04/s at 1x/2x, $0.07/s at 4x). The offline emulator cannot read the
    # source: it assumes a 5 s 640x360 clip, so the output is 360p/720p/1440p for factors 1/2/4.
    return [
        MarketModel(
            "topaz/video-upscale",
            "topaz",
            f"{DOCS}/topaz/video-upscale",
            (
                url("video_url", required=True),
                choice("upscale_factor", "1", "2", "4", default="2", role="resolution"),
            ),
            Price(("upscale_factor",), {("1",): 8, ("2",): 8, ("4",): 14}, per_second=True),
            shape_defaults={"duration": 5},
            value_aliases={"resolution": {"1": "360p", "2": "720p", "4": "1440p"}},
        ),
    ]


def _build() -> dict[str, MarketModel]:
    models = [*_kling(), *_sora2(), *_wan(), *_hailuo(), *_seedance(), *_grok(), *_topaz()]
    return {model.name: model for model in models}


#: Every documented model by name.
CATALOGUE: Mapping[str, MarketModel] = _build()


def catalogue_model(name: str) -> MarketModel | None:
    """The documented model ``name``, or ``None`` for KIE's long tail (accepted without input checks)."""
    return CATALOGUE.get(name)
