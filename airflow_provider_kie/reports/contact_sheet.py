"""A model bake-off's contact sheet: one HTML page a marketing lead opens to choose a model.

The page is self-contained and works offline: inline CSS, no script, no web font, no CDN. The only things it
loads are the clips themselves, linked relative to the page when they sit in its folder (a bake-off stores
every model's clip under one run folder, so that folder can be zipped, moved or served as it is). A
``manifest.json`` beside the page carries the same data for tools.

A clip is an operator's result dict (:class:`~airflow_provider_kie.lifecycle.results.ClipResult` with the keys
the lifecycle adds: ``files``, ``model``, ``prompt``, ``generation_seconds``, ``credits``), read leniently: a
missing key is unknown and shown as "—". A DAG may add two keys of its own: ``label`` (the entrant's display
name; the model, then the backend, otherwise) and ``error`` (why there is no clip). A clip with an ``error``,
a ``state`` other than ``succeeded`` or no stored video gets a failure card, so a bake-off where one model
failed still produces a page.

Airflow-free on purpose: the bake-off DAG calls it from a task, and anyone can call it on saved results.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

__all__ = [
    "MANIFEST_NAME",
    "UNKNOWN",
    "contact_sheet_html",
    "contact_sheet_manifest",
    "render_contact_sheet",
]

#: The manifest's file name, beside the page.
MANIFEST_NAME = "manifest.json"
#: How an unknown value is shown.
UNKNOWN = "\u2014"

_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")

# The page never needs a script or a plug-in: forbidding them also makes markup that slipped past escaping
# inert.
_CSP = "script-src 'none'; object-src 'none'; base-uri 'none'"

# Every card's media sits in the same 16:9 frame (absolutely positioned, so a portrait or square clip is
# letterboxed instead of stretching its card): the models compare side by side at a glance.
_CSS = """
:root{color-scheme:light dark;--bg:#f5f5f3;--card:#fff;--ink:#1c1c1f;--muted:#6a6a72;--line:#e2e2df;
--accent:#5a3fd1;--bad:#b93a2c;--bad-bg:#fcefed}
@media (prefers-color-scheme:dark){:root{--bg:#131316;--card:#1e1e23;--ink:#ececf1;--muted:#9c9ca6;
--line:#2f2f36;--accent:#a898ff;--bad:#ff8171;--bad-bg:#2b1b1a}}
*{box-sizing:border-box}
body{margin:0;padding:32px clamp(16px,4vw,48px);background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",sans-serif}
header,main,footer{max-width:1400px;margin:0 auto}
h1{margin:0 0 6px;font-size:13px;font-weight:600;letter-spacing:.08em;text-transform:uppercase;
color:var(--muted)}
.brief{margin:0 0 8px;font-size:22px;line-height:1.35;white-space:pre-wrap;overflow-wrap:anywhere}
.summary{margin:0 0 24px;color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;overflow:hidden;
display:flex;flex-direction:column}
.media{position:relative;aspect-ratio:16/9;background:#000;display:flex;align-items:center;
justify-content:center}
.media video,.media img{position:absolute;inset:0;width:100%;height:100%;object-fit:contain}
.failed{border-color:var(--bad)}
.failed .media{background:var(--bad-bg);color:var(--bad);font-weight:600}
.body{padding:14px 16px 16px;display:flex;flex-direction:column;gap:10px;flex:1}
h2{margin:0;font-size:17px;display:flex;align-items:center;gap:8px;flex-wrap:wrap}
.badge{font-size:12px;font-weight:500;padding:1px 8px;border-radius:999px;background:var(--line);
color:var(--muted)}
.badge.bad{background:var(--bad);color:#fff}
.facts{display:grid;grid-template-columns:minmax(0,1fr) auto auto;gap:8px 16px;margin:0}
.facts div+div dd{white-space:nowrap}
dt{font-size:11px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted)}
dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.prompt{margin:0;padding-left:10px;border-left:3px solid var(--line);white-space:pre-wrap;
overflow-wrap:anywhere}
.reason{margin:0;color:var(--bad);white-space:pre-wrap;overflow-wrap:anywhere}
.files{margin:auto 0 0;display:flex;align-items:center;gap:10px;flex-wrap:wrap;font-size:13px}
.thumb{width:64px;height:36px;object-fit:cover;border-radius:4px;border:1px solid var(--line);display:block}
.task{margin:0;font-size:12px;color:var(--muted);overflow-wrap:anywhere}
a{color:var(--accent)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{margin-top:24px;color:var(--muted);font-size:13px}
"""


def _e(value: object) -> str:
    """Text for HTML, attribute values included (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def _text(value: Any) -> str | None:
    """A non-empty string, or ``None`` for a missing/blank value."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    """A finite number, or ``None`` when missing or not a number (``True`` is not a credit count)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _credits_text(credits: float | None) -> str:
    if credits is None:
        return UNKNOWN
    return f"{credits:,.2f}".rstrip("0").rstrip(".")


def _seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return UNKNOWN
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _local_path(location: str) -> Path | None:
    """The local file a stored location names, or ``None`` for a remote URL (``s3://``, ``https://``...)."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    # One letter is a Windows drive (C:\\...), not a URL scheme.
    if len(parts.scheme) > 1 and "://" in location:
        return None
    return Path(location)


def _href(location: Any, page_dir: Path | None) -> str | None:
    """How the page links a stored file: relative when it sits in the page's folder (or below), so the
    folder stays self-contained; otherwise a ``file://`` URI for a local file, and a URL as it is."""
    text = _text(os.fspath(location) if isinstance(location, os.PathLike) else location)
    if text is None:
        return None
    path = _local_path(text)
    if path is None:
        return text
    # A relative path is relative to the worker's working directory, where the operator stored the file.
    absolute = Path(os.path.abspath(path))
    if page_dir is not None:
        # abspath keeps the spelling the DAG used for both; resolve() catches a symlinked output root.
        for file, folder in ((absolute, page_dir), (absolute.resolve(), page_dir.resolve())):
            if file.is_relative_to(folder):
                return quote(file.relative_to(folder).as_posix())
    return absolute.as_uri()


def _suffix(location: str) -> str:
    return os.path.splitext(urlsplit(location).path)[1].lower()


@dataclass(frozen=True)
class _Card:
    """One clip as the page shows it; hrefs are ready to put in an attribute once escaped."""

    title: str
    model: str | None
    backend: str | None
    prompt: str | None
    credits: float | None
    seconds: float | None
    task_id: str | None
    video: str | None
    cover: str | None
    extras: tuple[tuple[str, str], ...]
    failure: str | None


def _card(clip: Mapping[str, Any], page_dir: Path | None) -> _Card:
    listed = clip.get("files") or ()
    files = [str(f) for f in ([listed] if isinstance(listed, (str, os.PathLike)) else listed) if _text(f)]
    video = _text(clip.get("video_path")) or next((f for f in files if _suffix(f) in _VIDEO_SUFFIXES), None)
    cover = _text(clip.get("cover_path")) or next((f for f in files if _suffix(f) in _IMAGE_SUFFIXES), None)
    extras = tuple(
        (os.path.basename(urlsplit(f).path) or f, href)
        for f in files
        if f not in (video, cover) and (href := _href(f, page_dir))
    )
    video_href, cover_href = _href(video, page_dir), _href(cover, page_dir)
    model, backend, state = _text(clip.get("model")), _text(clip.get("kind")), _text(clip.get("state"))
    failure = _text(clip.get("error"))
    if failure is None and state not in (None, "succeeded"):
        failure = f"No clip: the KIE task ended {state}."
    if failure is None and video_href is None:
        failure = "KIE reported success, but no video was stored." if state else "No clip was produced."
    return _Card(
        title=_text(clip.get("label")) or model or backend or UNKNOWN,
        model=model,
        backend=backend,
        prompt=_text(clip.get("prompt")),
        credits=_number(clip.get("credits")),
        seconds=_number(clip.get("generation_seconds")),
        task_id=_text(clip.get("kie_task_id")),
        video=video_href,
        cover=cover_href,
        extras=extras,
        failure=failure,
    )


def _media_html(card: _Card) -> str:
    if card.failure is None and card.video:
        poster = f' poster="{_e(card.cover)}"' if card.cover else ""
        # The link inside shows only where the browser cannot play video at all.
        return (
            f'<video controls preload="metadata" playsinline{poster} src="{_e(card.video)}">'
            f'<a href="{_e(card.video)}">Download the video</a></video>'
        )
    if card.cover:
        return f'<img src="{_e(card.cover)}" alt="Cover of {_e(card.title)}">'
    return "<span>No clip</span>"


def _files_html(card: _Card) -> str:
    links = []
    if card.cover:
        links.append(
            f'<a href="{_e(card.cover)}" title="Cover image">'
            f'<img class="thumb" src="{_e(card.cover)}" alt="Cover of {_e(card.title)}"></a>'
        )
    if card.video:
        links.append(f'<a href="{_e(card.video)}" download>Video file</a>')
    links.extend(f'<a href="{_e(href)}">{_e(name)}</a>' for name, href in card.extras)
    return f'<p class="files">{" ".join(links)}</p>' if links else ""


def _card_html(index: int, card: _Card) -> str:
    failed = card.failure is not None
    badges = f'<span class="badge">{_e(card.backend)}</span>' if card.backend else ""
    if failed:
        badges += '<span class="badge bad">Failed</span>'
    parts = [
        f'<article class="card{" failed" if failed else ""}" id="clip-{index}" '
        f'data-state="{"failed" if failed else "ok"}">',
        f'<div class="media">{_media_html(card)}</div>',
        '<div class="body">',
        f"<h2>{_e(card.title)}{badges}</h2>",
        '<dl class="facts">',
        f"<div><dt>Model</dt><dd>{_e(card.model or UNKNOWN)}</dd></div>",
        f"<div><dt>Credits</dt><dd>{_e(_credits_text(card.credits))}</dd></div>",
        f"<div><dt>Generation</dt><dd>{_e(_seconds_text(card.seconds))}</dd></div>",
        "</dl>",
    ]
    if failed:
        parts.append(f'<p class="reason">{_e(card.failure)}</p>')
    parts.append(f'<p class="prompt">{_e(card.prompt or UNKNOWN)}</p>')
    parts.append(_files_html(card))
    if card.task_id:
        parts.append(f'<p class="task">KIE task <code>{_e(card.task_id)}</code></p>')
    parts.append("</div></article>")
    return "\n".join(p for p in parts if p)


def _summary(cards: Sequence[_Card]) -> str:
    delivered = sum(c.failure is None for c in cards)
    failed = len(cards) - delivered
    known = [c.credits for c in cards if c.credits is not None]
    credits = f"{_credits_text(sum(known))} credits spent" if known else "credits unknown"
    if known and len(known) < len(cards):
        credits += f" ({len(cards) - len(known)} unknown)"
    noun = "model" if len(cards) == 1 else "models"
    return f"{delivered} of {len(cards)} {noun} delivered a clip · {failed} failed · {credits}"


def _when(generated_at: datetime | None) -> datetime:
    return (generated_at or datetime.now(timezone.utc)).replace(microsecond=0)


def contact_sheet_html(
    brief: str,
    clips: Sequence[Mapping[str, Any]],
    *,
    page_dir: str | os.PathLike[str] | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The contact sheet page as a string, for writing it somewhere :func:`render_contact_sheet` cannot.

    :param brief: the creative brief every model was given.
    :param clips: the operators' result dicts, one per model, in the order to show them.
    :param page_dir: the folder the page will be saved in: files under it are linked relative to it.
        ``None`` links every local file by its ``file://`` URI.
    :param generated_at: the time printed on the page (now, by default).
    """
    folder = Path(os.path.abspath(page_dir)) if page_dir is not None else None
    cards = [_card(clip, folder) for clip in clips]
    short = brief if len(brief) <= 60 else brief[:59].rstrip() + "…"
    body = "\n".join(_card_html(i, card) for i, card in enumerate(cards, start=1))
    when = _when(generated_at)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">
<meta name="generator" content="airflow-provider-kie">
<title>Bake-off: {_e(short or UNKNOWN)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>Model bake-off</h1>
<p class="brief">{_e(brief or UNKNOWN)}</p>
<p class="summary">{_e(_summary(cards))}</p>
</header>
<main class="grid">
{body}
</main>
<footer>Generated {_e(when.isoformat())} by airflow-provider-kie ·
<a href="{MANIFEST_NAME}">{MANIFEST_NAME}</a> has the same data as JSON.</footer>
</body>
</html>
"""


def contact_sheet_manifest(
    brief: str,
    clips: Sequence[Mapping[str, Any]],
    *,
    page: str | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The manifest beside the page: the brief, a summary and the clips exactly as given (made JSON-able:
    paths become strings)."""
    cards = [_card(clip, None) for clip in clips]
    known = [c.credits for c in cards if c.credits is not None]
    manifest = {
        "brief": brief,
        "generated_at": _when(generated_at).isoformat(),
        "page": page,
        "summary": {
            "models": len(cards),
            "delivered": sum(c.failure is None for c in cards),
            "failed": sum(c.failure is not None for c in cards),
            "credits": sum(known) if known else None,
        },
        "clips": [dict(clip) for clip in clips],
    }
    # A round trip turns Paths, tuples and the like into plain JSON values: what is returned is what is saved.
    result: dict[str, Any] = json.loads(json.dumps(manifest, default=_json_default))
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a reader never opens half a page."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; the page is meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_contact_sheet(
    brief: str,
    clips: Sequence[Mapping[str, Any]],
    out_path: str | os.PathLike[str],
    *,
    generated_at: datetime | None = None,
) -> Path:
    """Write the contact sheet page to ``out_path`` (an ``.html`` file, on local disk) and ``manifest.json``
    beside it; return the page's path.

    :param brief: the creative brief every model was given.
    :param clips: the operators' result dicts, one per model (see the module docstring for the keys read);
        a model that failed is a dict with ``error`` (and whatever else is known), so it gets a failure card.
    :param out_path: the page to write; its folder is created. Clips stored in that folder or below are
        linked relative to the page.
    :param generated_at: the time printed on the page and in the manifest (now, by default).
    """
    page = Path(os.path.abspath(out_path))
    page.parent.mkdir(parents=True, exist_ok=True)
    when = _when(generated_at)
    manifest = contact_sheet_manifest(brief, clips, page=page.name, generated_at=when)
    _write_atomically(page.parent / MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    # The page last: once it exists, its manifest does too.
    _write_atomically(page, contact_sheet_html(brief, clips, page_dir=page.parent, generated_at=when))
    return page
