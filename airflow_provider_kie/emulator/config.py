"""Configuration of the KIE emulator.

Durations named ``*_s`` are in *KIE seconds*: the time the real KIE would take. The emulator multiplies every
one of them by :attr:`EmulatorConfig.time_scale`, so one config describes KIE faithfully and a single number
makes it fast enough for tests. The rate-limit window, callback timeouts and injected fault delays are in
*real* seconds, because they exist to exercise the client's own clocks (its backoff and its timeouts), which
are never scaled.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from airflow_provider_kie.emulator.faults import FaultRule
from airflow_provider_kie.emulator.runway_api_config import RunwayApiConfig

#: Port of ``python -m airflow_provider_kie.emulator`` when ``--port`` is not given. Chosen to sit clear of
#: Airflow's own ports (8080 api-server, 8793/8794 log servers).
DEFAULT_PORT = 8089
DEFAULT_HOST = "127.0.0.1"
#: Path prefix under which the same server plays KIE's separate file-upload host.
UPLOAD_HOST_PREFIX = "/upload-host"

#: A record namespace: KIE looks task ids up per family, each at its own record endpoint.
Family = Literal["runway", "aleph", "jobs", "veo"]


class SubmissionKind(str, enum.Enum):
    """What a submission asked for; the first element of a cost-table key.

    Not ``TaskKind``: the client's ``records.TaskKind`` is the API family (runway, aleph, jobs) that decides
    the status endpoint, whereas these are the priced submissions (generate and extend are both Runway);
    their family is :attr:`family`.
    """

    GENERATE = "generate"
    EXTEND = "extend"
    ALEPH = "aleph"
    #: The unified Market API (``/api/v1/jobs``), for KIE's other model families.
    JOBS = "jobs"
    #: Veo 3.1 generation (``/api/v1/veo/generate``).
    VEO = "veo"
    #: Veo 3.1 extension of a Veo task (``/api/v1/veo/extend``).
    VEO_EXTEND = "veo_extend"

    @property
    def family(self) -> Family:
        """Record namespace: ``runway`` (generate and extend), ``aleph``, ``jobs`` or ``veo`` (generate and
        extend). KIE looks task ids up per family, so an id is unknown to the other families' record
        endpoints."""
        return _FAMILIES[self]


_FAMILIES: Mapping[SubmissionKind, Family] = {
    SubmissionKind.GENERATE: "runway",
    SubmissionKind.EXTEND: "runway",
    SubmissionKind.ALEPH: "aleph",
    SubmissionKind.JOBS: "jobs",
    SubmissionKind.VEO: "veo",
    SubmissionKind.VEO_EXTEND: "veo",
}

#: Cost-table key: (kind, clip duration in seconds, price tier). The price tier is the video quality for
#: Runway and Aleph; the model name for jobs tasks, which use ``(JOBS, 0, model)``, then the model's catalogue
#: price, then ``(JOBS, 0, "*")``; ``"<model>/<resolution>"`` for Veo generations (``(VEO, 0,
#: "veo3_fast/720p")``), the model for Veo extensions, and ``(VEO, 0, "get-1080p" | "get-4k")`` for Veo
#: upgrades.
CostKey = tuple[SubmissionKind, int, str]

#: Runway, Aleph and jobs defaults are illustrative (Runway's happen to match KIE's list: $0.06 = 12 credits
#: at 1 credit = $0.005); they only need to be distinct and non-zero so tests can tell the kinds apart.
#: Extensions add 5 s; Aleph outputs at most 5 s and takes no quality, so it is keyed as ``(ALEPH, 5,
#: "720p")``. Veo's come from KIE's price list (https://kie.ai/pricing, snapshot of 2026-06-30): Quality /
#: Fast / Lite per video at 720p, 1080p and 4K; extensions at the 720p price; 1080P $0.025, 4K $0.60.
DEFAULT_COSTS: Mapping[CostKey, int] = {
    (SubmissionKind.GENERATE, 5, "720p"): 12,
    (SubmissionKind.GENERATE, 10, "720p"): 30,
    (SubmissionKind.GENERATE, 5, "1080p"): 30,
    (SubmissionKind.EXTEND, 5, "720p"): 12,
    (SubmissionKind.EXTEND, 5, "1080p"): 30,
    (SubmissionKind.ALEPH, 5, "720p"): 60,
    (SubmissionKind.JOBS, 0, "*"): 20,
    (SubmissionKind.VEO, 0, "veo3/720p"): 250,
    (SubmissionKind.VEO, 0, "veo3/1080p"): 255,
    (SubmissionKind.VEO, 0, "veo3/4k"): 370,
    (SubmissionKind.VEO, 0, "veo3_fast/720p"): 60,
    (SubmissionKind.VEO, 0, "veo3_fast/1080p"): 65,
    (SubmissionKind.VEO, 0, "veo3_fast/4k"): 180,
    (SubmissionKind.VEO, 0, "veo3_lite/720p"): 30,
    (SubmissionKind.VEO, 0, "veo3_lite/1080p"): 35,
    (SubmissionKind.VEO, 0, "veo3_lite/4k"): 150,
    (SubmissionKind.VEO_EXTEND, 0, "veo3"): 250,
    (SubmissionKind.VEO_EXTEND, 0, "veo3_fast"): 60,
    (SubmissionKind.VEO_EXTEND, 0, "veo3_lite"): 30,
    (SubmissionKind.VEO, 0, "get-1080p"): 5,
    (SubmissionKind.VEO, 0, "get-4k"): 120,
}

#: Hosts the emulator POSTs callbacks to by default: loopback only, so a ``callBackUrl`` copied from KIE's
#: docs (``https://your-app.com/...``) never leaves the machine.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class PhaseTimeline:
    """How long a task stays in each non-terminal state, in KIE seconds.

    A task is ``wait`` for ``wait_s``, then ``queueing`` for ``queueing_s``, then ``generating`` for
    ``generating_s``, then terminal. Aleph has no visible phases (only ``successFlag``), so only the total
    matters.
    """

    wait_s: float = 5.0
    queueing_s: float = 10.0
    generating_s: float = 60.0

    def __post_init__(self) -> None:
        if min(self.wait_s, self.queueing_s, self.generating_s) < 0:
            raise ValueError("phase durations must be >= 0")

    @property
    def total_s(self) -> float:
        """KIE seconds from submission to the terminal state."""
        return self.wait_s + self.queueing_s + self.generating_s


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one emulator run. Immutable: runtime knobs (faults, credits, clock) live on the
    state.

    Attributes:
        api_keys: Accepted bearer keys. ``None`` accepts any non-empty key, so requests copied from KIE's
            quickstart (``Bearer YOUR_API_KEY``) work unchanged.
        initial_credits: Credit balance at start and after a reset.
        costs: Credits charged per accepted submission, keyed by :data:`CostKey`
            ``(SubmissionKind, duration, price tier)``. Keys missing here fall back to :data:`DEFAULT_COSTS`,
            then to 0.
        timeline: Phase durations of Runway generate/extend and jobs tasks (KIE seconds).
        aleph_timeline: Phase durations of Aleph tasks (KIE seconds); KIE's Aleph typically takes minutes.
        veo_timeline: Phase durations of Veo generate/extend tasks (KIE seconds; Veo only shows
            ``successFlag`` 0 until the end).
        veo_1080p_s: KIE seconds from the first ``get-1080p-video`` call to the 1080P file (KIE: 1-3 min).
        veo_4k_s: KIE seconds from an accepted ``get-4k-video`` call to the 4K file (KIE: 5-10 min).
        time_scale: Multiplier applied to every KIE-seconds duration. ``0.005`` turns a 75 s generation into
            ~0.4 s; ``1.0`` is real time.
        rate_limit: Submissions (generate, extend, aleph) allowed per ``rate_window_s``; more are
            answered 429.
        rate_window_s: Sliding window of the rate limit, in *real* seconds (never scaled).
        concurrency_cap: Unfinished tasks an account may have; a task submitted at the cap fails at once with
            "Reached the limit for concurrent generations" (and its credits are refunded).
        media_retention_s: How long produced media stays downloadable (KIE: 14 days); then ``expireFlag`` is 1
            and the media URLs answer 404. Runway, Aleph and Veo media.
        market_media_retention_s: The same for Market (jobs) results, whose URLs "typically expire after 24
            hours" (KIE's get-task-detail page).
        market_outputs: Results per task by Market model name (``"*"`` = every model), overriding the
            catalogue's count (1 for every video model KIE documents), so a test can make one task yield
            several ``resultUrls``.
        market_results_per_task: The same for every Market model at once (``market_outputs`` entries win);
            ``None`` keeps the catalogue's counts.
        media_renderer: ``"ffmpeg"`` renders each task's own clip and cover (frame size, duration, a colour
            and caption of its own, its task id in the MP4 metadata); ``"sample"`` serves the shipped 320x180
            sample for every task (also the fallback, with a warning, when ffmpeg is not installed).
        download_link_ttl_s: Lifetime of links made by ``common/download-url`` (KIE: 20 min); then 403.
        upload_retention_s: Lifetime of files on the upload host (KIE: 24 h to 3 days; 24 h here).
        webhook_hmac_key: When set, callbacks carry ``X-Webhook-Timestamp`` and ``X-Webhook-Signature``.
        callback_timeout_s: Real-seconds timeout of one callback POST (KIE: 15 s).
        callback_retry_delays_s: Delays (KIE seconds) before retrying a failed callback (KIE: 1, 5, 15 min).
        callback_allowed_hosts: Hosts callbacks may be POSTed to; ``None`` allows every host. Attempts to
            other hosts are recorded as failed without any network traffic, keeping the emulator offline.
        public_base_url: Base URL written into media links and upload answers. ``None`` uses the URL the
            client called, which is right unless the emulator sits behind a proxy or a container name.
        max_upload_bytes: Largest file the upload host accepts.
        seed: Seed of every random fault decision, so a run with the same seed and call sequence injects the
            same faults.
        faults: Fault rules active at start and after a reset.
        runway_api: The emulated Runway developer API (``/runway-api``): keys, versions, credits, limits,
            timings (:class:`~airflow_provider_kie.emulator.runway_api_config.RunwayApiConfig`).
    """

    api_keys: frozenset[str] | None = None
    initial_credits: int = 10_000
    costs: Mapping[CostKey, int] = field(default_factory=lambda: dict(DEFAULT_COSTS))
    timeline: PhaseTimeline = PhaseTimeline()
    aleph_timeline: PhaseTimeline = PhaseTimeline(wait_s=5.0, queueing_s=10.0, generating_s=120.0)
    veo_timeline: PhaseTimeline = PhaseTimeline(wait_s=5.0, queueing_s=10.0, generating_s=105.0)
    veo_1080p_s: float = 90.0
    veo_4k_s: float = 420.0
    time_scale: float = 1.0
    rate_limit: int = 20
    rate_window_s: float = 10.0
    concurrency_cap: int = 10
    media_retention_s: float = 14 * 24 * 3600.0
    market_media_retention_s: float = 24 * 3600.0
    market_outputs: Mapping[str, int] = field(default_factory=dict)
    market_results_per_task: int | None = None
    media_renderer: Literal["ffmpeg", "sample"] = "ffmpeg"
    download_link_ttl_s: float = 20 * 60.0
    upload_retention_s: float = 24 * 3600.0
    webhook_hmac_key: str | None = None
    callback_timeout_s: float = 5.0
    callback_retry_delays_s: tuple[float, ...] = (60.0, 300.0, 900.0)
    callback_allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS
    public_base_url: str | None = None
    max_upload_bytes: int = 100 * 1024 * 1024
    seed: int = 0
    faults: Sequence[FaultRule] = ()
    runway_api: RunwayApiConfig = field(default_factory=RunwayApiConfig)

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.rate_limit < 1 or self.rate_window_s <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_window_s > 0")
        if self.concurrency_cap < 1:
            raise ValueError("concurrency_cap must be >= 1")
        if self.initial_credits < 0:
            raise ValueError("initial_credits must be >= 0")
        if self.api_keys is not None and not isinstance(self.api_keys, frozenset):
            # Accept any iterable of keys but store an immutable set, so the frozen config stays
            # hashable-safe.
            object.__setattr__(self, "api_keys", frozenset(self.api_keys))
        if self.public_base_url is not None:
            object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))
        counts = list(self.market_outputs.values())
        if self.market_results_per_task is not None:
            counts.append(self.market_results_per_task)
        if any(count < 1 for count in counts):
            raise ValueError("market_outputs and market_results_per_task counts must be >= 1")
        if self.media_renderer not in ("ffmpeg", "sample"):
            raise ValueError("media_renderer must be 'ffmpeg' or 'sample'")
        if min(self.veo_1080p_s, self.veo_4k_s, self.market_media_retention_s) < 0:
            raise ValueError("durations must be >= 0")

    def scaled(self, kie_seconds: float) -> float:
        """Real seconds that ``kie_seconds`` of KIE time take in this run."""
        return kie_seconds * self.time_scale

    def cost_of(
        self, kind: SubmissionKind, duration: int, price_tier: str, *, listed: int | None = None
    ) -> int:
        """Credits one accepted submission of this shape costs; ``price_tier`` is the quality, a jobs model
        name or a Veo tier (see :data:`CostKey`). ``listed`` is the price the model's catalogue entry gives:
        an explicit ``costs`` entry for the exact key wins over it, and it wins over the ``"*"`` fallback."""
        exact = (kind, duration, price_tier)
        if exact in self.costs:
            return self.costs[exact]
        if listed is not None:
            return listed
        keys = [exact]
        if kind is SubmissionKind.JOBS:
            keys.append((kind, 0, "*"))  # any model without a price of its own
        for table in (self.costs, DEFAULT_COSTS):
            for key in keys:
                if key in table:
                    return table[key]
        return 0

    def timeline_for(self, kind: SubmissionKind) -> PhaseTimeline:
        """Phase durations used for tasks of ``kind``."""
        if kind is SubmissionKind.ALEPH:
            return self.aleph_timeline
        if kind.family == "veo":
            return self.veo_timeline
        return self.timeline

    def outputs_for(self, model: str, documented: int) -> int:
        """Results a Market task of ``model`` yields: ``market_outputs`` (the model, then ``"*"``), else
        ``market_results_per_task``, else the catalogue's ``documented`` count."""
        fallback = documented if self.market_results_per_task is None else self.market_results_per_task
        return self.market_outputs.get(model, self.market_outputs.get("*", fallback))

    def retention_for(self, kind: SubmissionKind) -> float:
        """KIE seconds a task's media stays downloadable after it succeeded."""
        return self.market_media_retention_s if kind is SubmissionKind.JOBS else self.media_retention_s
