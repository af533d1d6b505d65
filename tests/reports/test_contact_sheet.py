"""The bake-off contact sheet: the page's structure, escaping, links and failure cards, its manifest, and the
page as headless Chromium loads it (real MP4/PNG files made by ffmpeg; screenshot in output/screenshots/)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

# tests/ is on sys.path (pytest's default import mode puts the root conftest's folder there).
from browser import chromium_page, media_report, screenshot, wait_for_media

from airflow_provider_kie.reports import MANIFEST_NAME, contact_sheet_html, render_contact_sheet
from airflow_provider_kie.reports.contact_sheet import UNKNOWN
from airflow_provider_kie.testing import is_png

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "output" / "screenshots"
WHEN = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
BRIEF = "A ceramic mug of coffee steaming on a sunlit kitchen table, slow push-in"
EVIL = '<script>document.title = "pwned"</script> & "quoted" <b>bold</b>'


# -- a small DOM, enough to assert on the page's structure -------------------------------------------------
@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """Every descendant with that tag and/or class, in document order."""
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                found.append(child)
            found.extend(child.all(tag, cls))
        return found

    def one(self, tag: str | None = None, cls: str | None = None) -> Element:
        (found,) = self.all(tag, cls)
        return found

    def full_text(self) -> str:
        return self.text + "".join(child.full_text() for child in self.children)


class _TreeBuilder(HTMLParser):
    VOID = frozenset({"meta", "img", "br", "link", "source", "input", "hr", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # text comes back unescaped, as a browser shows it
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert tag in [e.tag for e in self.stack], f"stray </{tag}>"
        while self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def parse(page: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def facts(card: Element) -> dict[str, str]:
    """The card's Model / Credits / Generation values."""
    terms = [dt.full_text() for dt in card.all("dt")]
    return dict(zip(terms, [dd.full_text() for dd in card.all("dd")], strict=True))


# -- clips as the operators return them -----------------------------------------------------------------
def clip(run: Path, folder: str, **extra: Any) -> dict[str, Any]:
    """A succeeded clip stored under ``run/folder/`` (paths only: the unit tests need no real files)."""
    stem = folder.split()[0]
    video, cover = str(run / folder / f"{stem}.mp4"), str(run / folder / f"{stem}.png")
    return {
        "kie_task_id": f"task-{stem}",
        "kind": "jobs",
        "state": "succeeded",
        "video_url": f"https://tempfile.example/{stem}.mp4",
        "cover_url": None,
        "video_id": None,
        "video_path": video,
        "cover_path": cover,
        "parent_task_id": None,
        "files": [video, cover],
        "model": f"{stem}-model",
        "prompt": BRIEF,
        "generation_seconds": 42.0,
        "credits": 30,
        **extra,
    }


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return tmp_path / "bakeoff" / "2026-03-04"


def test_a_card_per_clip_with_a_playable_video_and_its_facts(run: Path) -> None:
    clips = [
        clip(run, "runway", label="Runway", kind="runway", model=None, credits=12, generation_seconds=75),
        clip(run, "veo3-fast", label="Veo 3.1 Fast", kind="veo", model="veo3_fast", credits=60.5),
        clip(run, "kling", label="Kling 2.6", model="kling-2.6/text-to-video", generation_seconds=5.04),
    ]
    doc = parse(contact_sheet_html(BRIEF, clips, page_dir=run, generated_at=WHEN))
    cards = doc.all("article", "card")
    assert [c.one("h2").text for c in cards] == ["Runway", "Veo 3.1 Fast", "Kling 2.6"]
    assert [c.attrs["data-state"] for c in cards] == ["ok", "ok", "ok"]
    for card, folder in zip(cards, ["runway", "veo3-fast", "kling"], strict=True):
        video = card.one("video")
        assert "controls" in video.attrs and video.attrs["preload"] == "metadata"
        assert video.attrs["src"] == f"{folder}/{folder}.mp4"
        assert video.attrs["poster"] == f"{folder}/{folder}.png"
        assert card.one("img", "thumb").attrs["src"] == f"{folder}/{folder}.png"
        assert card.one(cls="prompt").full_text() == BRIEF
        assert card.one("code").text == f"task-{folder}"
    assert [c.one(cls="badge").text for c in cards] == ["runway", "veo", "jobs"]
    assert [facts(c) for c in cards] == [
        {"Model": UNKNOWN, "Credits": "12", "Generation": "1 min 15 s"},
        {"Model": "veo3_fast", "Credits": "60.5", "Generation": "42 s"},
        {"Model": "kling-2.6/text-to-video", "Credits": "30", "Generation": "5.0 s"},
    ]
    assert doc.one(cls="brief").text == BRIEF
    assert doc.one(cls="summary").text == "3 of 3 models delivered a clip · 0 failed · 102.5 credits spent"
    assert "2026-03-04T09:30:00+00:00" in doc.one("footer").full_text()


def test_the_page_is_self_contained(run: Path) -> None:
    page = contact_sheet_html(BRIEF, [clip(run, "runway")], page_dir=run, generated_at=WHEN)
    doc = parse(page)
    # No script, stylesheet, font or frame from anywhere: it must work offline, from a zip or a file share.
    assert doc.all("script") == [] and doc.all("link") == [] and doc.all("iframe") == []
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert doc.one("style").text.strip()
    csp = next(m for m in doc.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy")
    assert "script-src 'none'" in (csp.attrs["content"] or "")


def test_prompts_and_names_are_escaped(run: Path) -> None:
    clips = [clip(run, "runway", label='Runway "gen-4" <i>', prompt=EVIL)]
    page = contact_sheet_html(EVIL, clips, page_dir=run, generated_at=WHEN)
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;document.title = &quot;pwned&quot;&lt;/script&gt; &amp;" in page
    doc = parse(page)
    # Shown as the text it is, and no element smuggled in.
    assert doc.one(cls="prompt").text == EVIL
    assert doc.one(cls="brief").text == EVIL
    assert doc.one("h2").text == 'Runway "gen-4" <i>'
    assert doc.one("img", "thumb").attrs["alt"] == 'Cover of Runway "gen-4" <i>'
    assert doc.all("script") == [] and doc.all("b") == [] and doc.all("i") == []
    assert doc.one("title").text.startswith("Bake-off: <script>")


def test_links_are_relative_to_the_page_when_the_files_sit_beside_it(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "archive" / "old clip.mp4"
    monkeypatch.chdir(tmp_path)
    clips = [
        clip(run, "kling 2.6"),  # a space and a dot: percent-encoded in the URL
        {**clip(run, "beside"), "video_path": str(run / "beside.mp4"), "cover_path": None, "files": []},
        {**clip(run, "cwd"), "video_path": "bakeoff/2026-03-04/cwd/cwd.mp4"},  # relative to the worker's cwd
        {**clip(run, "old"), "video_path": str(elsewhere), "cover_path": None, "files": [str(elsewhere)]},
        {**clip(run, "s3"), "video_path": "s3://bucket/bakeoff/s3.mp4", "cover_path": None, "files": []},
        {**clip(run, "uri"), "video_path": (run / "uri" / "uri.mp4").as_uri(), "files": []},
    ]
    doc = parse(contact_sheet_html(BRIEF, clips, page_dir=run, generated_at=WHEN))
    assert [v.attrs["src"] for v in doc.all("video")] == [
        "kling%202.6/kling.mp4",
        "beside.mp4",
        "cwd/cwd.mp4",
        "file://" + str(tmp_path / "archive" / "old%20clip.mp4"),
        "s3://bucket/bakeoff/s3.mp4",
        "uri/uri.mp4",
    ]
    assert doc.all("video")[0].attrs["poster"] == "kling%202.6/kling.png"


def test_other_stored_files_are_listed(run: Path) -> None:
    extra = str(run / "sora" / "sora-2.mp4")
    base = clip(run, "sora")
    doc = parse(contact_sheet_html(BRIEF, [{**base, "files": [*base["files"], extra]}], page_dir=run))
    links = {a.full_text(): a.attrs["href"] for a in doc.one(cls="files").all("a")}
    assert links["Video file"] == "sora/sora.mp4"
    assert links["sora-2.mp4"] == "sora/sora-2.mp4"


def test_video_and_cover_fall_back_to_the_files_list(run: Path) -> None:
    files = [str(run / "veo" / "veo.mp4"), str(run / "veo" / "veo.png")]
    only_files = {"state": "succeeded", "model": "veo3_fast", "files": files}
    video = parse(contact_sheet_html(BRIEF, [only_files], page_dir=run)).one("video")
    assert (video.attrs["src"], video.attrs["poster"]) == ("veo/veo.mp4", "veo/veo.png")


@pytest.mark.parametrize(
    ("failed", "reason"),
    [
        ({"error": "Content moderation: the prompt was refused", "state": "failed"}, "Content moderation"),
        ({"state": "failed", "video_path": None, "files": []}, "the KIE task ended failed"),
        ({"video_path": None, "cover_path": None, "files": []}, "no video was stored"),
    ],
)
def test_a_failed_model_gets_a_failure_card(run: Path, failed: dict[str, Any], reason: str) -> None:
    clips = [clip(run, "runway", label="Runway"), {**clip(run, "sora", label="Sora 2"), **failed}]
    doc = parse(contact_sheet_html(BRIEF, clips, page_dir=run, generated_at=WHEN))
    ok, bad = doc.all("article", "card")
    assert "failed" not in ok.classes and ok.all("video")
    assert "failed" in bad.classes and bad.attrs["data-state"] == "failed"
    assert bad.all("video") == []
    assert reason in bad.one(cls="reason").text
    assert [b.text for b in bad.all(cls="badge")] == ["jobs", "Failed"]
    assert bad.one(cls="prompt").text == BRIEF
    summary = doc.one(cls="summary").text
    assert summary.startswith("1 of 2 models delivered a clip · 1 failed")


def test_missing_keys_are_shown_as_unknown(run: Path) -> None:
    # What a DAG can say about a model whose task failed before it returned anything.
    doc = parse(contact_sheet_html(BRIEF, [{}, {"label": "Kling", "error": "no KIE task"}], page_dir=run))
    unknown, kling = doc.all("article", "card")
    assert unknown.one("h2").full_text() == UNKNOWN + "Failed"
    assert facts(unknown) == {"Model": UNKNOWN, "Credits": UNKNOWN, "Generation": UNKNOWN}
    assert unknown.one(cls="prompt").text == UNKNOWN
    assert unknown.all(cls="task") == [] and unknown.all(cls="files") == []
    assert unknown.one(cls="media").full_text() == "No clip"
    assert kling.one(cls="reason").text == "no KIE task"
    assert doc.one(cls="summary").text == "0 of 2 models delivered a clip · 2 failed · credits unknown"


@pytest.mark.parametrize(
    ("credits", "seconds", "shown"),
    [
        (0, 0.4, ("0", "0.4 s")),
        (1234.5, 3725, ("1,234.5", "1 h 02 min")),
        ("7.25", 59.6, ("7.25", "60 s")),
        (True, "soon", (UNKNOWN, UNKNOWN)),
        (float("nan"), None, (UNKNOWN, UNKNOWN)),
    ],
)
def test_numbers_are_formatted_for_people(
    run: Path, credits: Any, seconds: Any, shown: tuple[str, str]
) -> None:
    card = parse(
        contact_sheet_html(BRIEF, [clip(run, "runway", credits=credits, generation_seconds=seconds)])
    ).one("article")
    assert (facts(card)["Credits"], facts(card)["Generation"]) == shown


def test_render_writes_the_page_and_its_manifest(run: Path) -> None:
    clips = [
        {**clip(run, "runway"), "video_path": run / "runway" / "runway.mp4"},  # a Path, not a str
        {"label": "Sora 2", "model": "sora-2-text-to-video", "error": "refused", "kie_task_id": "t-9"},
    ]
    page = render_contact_sheet(BRIEF, clips, run / "contact-sheet.html", generated_at=WHEN)
    assert page == run / "contact-sheet.html" and page.is_file()
    assert sorted(p.name for p in run.iterdir()) == ["contact-sheet.html", MANIFEST_NAME]
    assert oct(page.stat().st_mode & 0o777) == oct(0o644)
    manifest = json.loads((run / MANIFEST_NAME).read_text())
    assert manifest == {
        "brief": BRIEF,
        "generated_at": "2026-03-04T09:30:00+00:00",
        "page": "contact-sheet.html",
        "summary": {"models": 2, "delivered": 1, "failed": 1, "credits": 30},
        "clips": [{**clips[0], "video_path": str(run / "runway" / "runway.mp4")}, clips[1]],
    }
    doc = parse(page.read_text())
    assert len(doc.all("article", "card")) == 2
    assert doc.one("footer").one("a").attrs["href"] == MANIFEST_NAME


def test_render_replaces_an_earlier_sheet(run: Path) -> None:
    page = render_contact_sheet("first", [], run / "index.html")
    render_contact_sheet("second", [clip(run, "runway")], page)
    assert parse(page.read_text()).one(cls="brief").text == "second"
    assert json.loads((run / MANIFEST_NAME).read_text())["brief"] == "second"
    assert not list(run.glob("*.partial"))


# -- the page in a real browser --------------------------------------------------------------------------
def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=60)


def _real_clip(run: Path, folder: str, source: str, size: str, **extra: Any) -> dict[str, Any]:
    """Store a 2 s H.264 MP4 and a PNG cover of a lavfi test source, as an operator would."""
    stem = folder.split()[0]
    out = run / folder
    out.mkdir(parents=True)
    video, cover = out / f"{stem}.mp4", out / f"{stem}.png"
    lavfi = f"{source}=size={size}:rate=24"
    _ffmpeg("-f", "lavfi", "-i", lavfi, "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(video))  # fmt: skip
    _ffmpeg("-f", "lavfi", "-i", lavfi, "-frames:v", "1", str(cover))
    return {**clip(run, folder), "video_path": str(video), "cover_path": str(cover),
            "files": [str(video), str(cover)], **extra}  # fmt: skip


def test_the_sheet_loads_in_headless_chromium(run: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: `make tools` installs Debian's ffmpeg")
    clips = [
        _real_clip(run, "runway", "testsrc2", "320x180", label="Runway", kind="runway", model=None,
                   credits=12, generation_seconds=71.3),
        _real_clip(run, "veo3-fast", "smptehdbars", "180x320", label="Veo 3.1 Fast", kind="veo",
                   model="veo3_fast", credits=60, generation_seconds=48.2, prompt=EVIL),
        _real_clip(run, "kling 2.6", "mandelbrot", "240x240", label="Kling 2.6",
                   model="kling-2.6/text-to-video", credits=55, generation_seconds=96),
        {"label": "Sora 2", "kind": "jobs", "model": "sora-2-text-to-video", "prompt": BRIEF,
         "kie_task_id": "task-sora", "error": "KIE refused the prompt: content moderation (code 400)"},
    ]  # fmt: skip
    page_path = render_contact_sheet(BRIEF, clips, run / "contact-sheet.html", generated_at=WHEN)

    with chromium_page(width=1360, height=900) as page:
        page.goto(page_path.as_uri())
        wait_for_media(page)
        report = media_report(page)
        shot = screenshot(page, SCREENSHOTS / "contact-sheet.png")
        title = page.title()
        prompt_shown = page.locator("#clip-2 .prompt").inner_text()
        failure_shown = page.locator("#clip-4 .reason").inner_text()

    # Every video found its file through the page-relative link and read its metadata: 2 s, its own size.
    videos = report["videos"]
    assert [v["src"].rsplit("/bakeoff/2026-03-04/", 1)[1] for v in videos] == [
        "runway/runway.mp4",
        "veo3-fast/veo3-fast.mp4",
        "kling%202.6/kling.mp4",
    ]
    for video, size in zip(videos, [(320, 180), (180, 320), (240, 240)], strict=True):
        assert video["error"] is None, video
        assert video["ready_state"] >= 1, video
        assert video["duration"] is not None and 1.9 < video["duration"] < 2.2, video
        assert (video["width"], video["height"]) == size
    # The covers (thumbnails; the same files are the videos' posters) are images that loaded.
    images = report["images"]
    assert len(images) == 3
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in images), images
    # The prompt with a <script> is shown as text and never ran.
    assert title.startswith("Bake-off: A ceramic mug")
    assert prompt_shown == EVIL
    assert "content moderation" in failure_shown
    assert is_png(shot) and shot.stat().st_size > 10_000
