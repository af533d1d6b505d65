"""Per-task media rendered with ffmpeg: each task's clip and cover are its own, shaped like the request.

A clip is a solid colour derived from its task id, with a caption (the task id, the file's variant, its size
and length, the start of the prompt) and a running timestamp; the task id is also written in the MP4's
``comment`` tag (:func:`embedded_task_id` reads it back). Frame size and duration are the request's
(:class:`~.dimensions.ClipShape`). Rendering is cheap on purpose: 2 frames per second, x264's ``ultrafast``
preset tuned for still images and a 24 kbit/s target give clips of a few tens of KB in a few tenths of a
second (a 4K clip takes about a second); covers are 8-bit palette PNGs. The command, for a 5 s 1280x720
clip::

    ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i color=c=0x3a7bd5:s=1280x720:r=2:d=5 \\
        -vf "drawtext=textfile=<caption>:expansion=none:...,drawtext=text='%{pts\\:hms}':..." \\
        -c:v libx264 -preset ultrafast -tune stillimage -pix_fmt yuv420p -b:v 24k -movflags +faststart \\
        -metadata title=... -metadata "comment=kie-emulator task_id=<id> variant=main" -an -f mp4 <file>

Files are rendered lazily, on the first download (or HEAD, which needs the length), once per task and
variant, in a temporary directory owned by the renderer and removed by :meth:`MediaRenderer.close` (at server
shutdown, or when the renderer is garbage collected). Without ffmpeg (or with ``media_renderer="sample"``)
every clip is the shipped 320x180 sample and every cover the shipped PNG; the missing ffmpeg is logged once.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from airflow_provider_kie.emulator.dimensions import ClipShape
from airflow_provider_kie.emulator.media import cover_image, sample_video

log = logging.getLogger(__name__)

FPS = 2
VIDEO_BITRATE = "24k"
#: ffmpeg runs at once: the emulator shares its machine with the code under test.
MAX_PARALLEL_RENDERS = 2
RENDER_TIMEOUT_S = 120.0
_COMMENT = re.compile(rb"kie-emulator task_id=([A-Za-z0-9._-]+)")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

MediaExt = Literal["mp4", "png"]
RendererMode = Literal["ffmpeg", "sample"]


@dataclass(frozen=True)
class RenderJob:
    """One file to produce: which task and variant, its extension, its shape and the prompt to show."""

    task_id: str
    #: "" for the main file; ``1``, ``2``... for further results; Veo's ``origin``, ``full``, ``1080p``,
    #: ``4k``.
    variant: str
    ext: MediaExt
    shape: ClipShape
    prompt: str = ""

    @property
    def file_name(self) -> str:
        """Cache file name: unique per task, variant, extension, size and length."""
        seconds = f"{self.shape.duration_s:g}".replace(".", "_")
        parts = (self.task_id, self.variant or "main", self.shape.size, seconds)
        return "__".join(_UNSAFE.sub("_", part) for part in parts) + f".{self.ext}"


def embedded_task_id(data: bytes) -> str | None:
    """The task id a rendered MP4 carries in its ``comment`` tag, or ``None`` (the sample, other files)."""
    match = _COMMENT.search(data)
    return match.group(1).decode() if match else None


def task_colour(task_id: str, variant: str) -> str:
    """``RRGGBB`` of a task's background: a hue from the task id (shifted for each further result), with a
    saturation and value that keep white text readable."""
    digest = hashlib.sha256(task_id.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    if variant.isdigit():
        hue += 0.17 * int(variant)
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, 0.55, 0.7)
    return f"{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"


def _caption(job: RenderJob) -> str:
    prompt = " ".join(job.prompt.split())
    if len(prompt) > 48:
        prompt = prompt[:47] + "..."
    lines = [
        "KIE emulator",
        f"task {job.task_id}",
        f"{job.variant or 'main'}  {job.shape.size}  {job.shape.duration_s:g}s",
    ]
    return "\n".join([*lines, prompt] if prompt else lines)


class MediaRenderer:
    """Renders and caches task media; safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._slots = threading.BoundedSemaphore(MAX_PARALLEL_RENDERS)
        self._dir: Path | None = None
        self._finalizer: weakref.finalize[..., MediaRenderer] | None = None
        self._ffmpeg: str | None = None
        self._looked_up = False
        self._text_ok = True
        self.rendered = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def directory(self) -> Path:
        """The cache directory (created on first use)."""
        with self._lock:
            if self._dir is None or not self._dir.is_dir():
                self._dir = Path(tempfile.mkdtemp(prefix="kie-emulator-media-"))
                self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._dir), True)
            return self._dir

    def close(self) -> None:
        """Delete the cache directory and everything rendered into it."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()  # runs shutil.rmtree once, then detaches
            self._dir = self._finalizer = None
            self._key_locks.clear()

    def ffmpeg(self) -> str | None:
        """The ffmpeg executable, or ``None`` (warned once) when it is not installed."""
        with self._lock:
            if not self._looked_up:
                self._looked_up = True
                self._ffmpeg = shutil.which("ffmpeg")
                if self._ffmpeg is None:
                    log.warning(
                        "KIE emulator: ffmpeg not found on PATH; every produced clip is the shipped 320x180 "
                        "sample (install ffmpeg, e.g. `make tools`, for clips shaped like each request)"
                    )
            return self._ffmpeg

    # ------------------------------------------------------------------ rendering

    async def render_async(self, job: RenderJob, mode: RendererMode = "ffmpeg") -> bytes:
        """:meth:`render` on a worker thread, so the event loop keeps serving other requests."""
        return await asyncio.to_thread(self.render, job, mode)

    def render(self, job: RenderJob, mode: RendererMode = "ffmpeg") -> bytes:
        """The bytes of ``job``'s file, rendered on first use and then read from the cache."""
        ffmpeg = self.ffmpeg() if mode == "ffmpeg" else None
        if ffmpeg is None:
            return sample_video() if job.ext == "mp4" else cover_image()
        target = self.directory / job.file_name
        with self._lock:
            key_lock = self._key_locks.setdefault(job.file_name, threading.Lock())
        with key_lock:
            if not target.exists():
                with self._slots:
                    self._render_file(ffmpeg, job, target)
            return target.read_bytes()

    def _render_file(self, ffmpeg: str, job: RenderJob, target: Path) -> None:
        # ffmpeg runs in the cache directory and sees these files by name only: the names are made of
        # [A-Za-z0-9._-], so no filtergraph escaping is needed whatever the temporary directory's path.
        caption = target.with_name(f".{target.name}.{threading.get_ident()}.txt")
        caption.write_text(_caption(job), encoding="utf-8")
        partial = target.with_name(f".{target.name}.{threading.get_ident()}.partial")
        try:
            if self._text_ok:
                try:
                    self._run(ffmpeg, job, partial, caption)
                except RuntimeError as exc:
                    # An ffmpeg without drawtext or without any font still renders the coloured clip.
                    message = str(exc).lower()
                    if "no such filter" not in message and "font" not in message:
                        raise
                    log.warning("KIE emulator: ffmpeg cannot draw text (%s); clips get no caption", exc)
                    self._text_ok = False
            if not self._text_ok:
                self._run(ffmpeg, job, partial, None)
            os.replace(partial, target)
            self.rendered += 1
        finally:
            caption.unlink(missing_ok=True)
            partial.unlink(missing_ok=True)

    def _run(self, ffmpeg: str, job: RenderJob, output: Path, caption: Path | None) -> None:
        shape = job.shape
        colour = task_colour(job.task_id, job.variant)
        duration = f"{shape.duration_s:g}" if job.ext == "mp4" else "1"
        source = f"color=c=0x{colour}:s={shape.size}:r={FPS}:d={duration}"
        filters = []
        if caption is not None:
            # Sized on the short side so a 41-character UUID line fits a portrait frame too.
            size = max(8, min(shape.width, shape.height) // 28)
            filters.append(
                f"drawtext=textfile={caption.name}:expansion=none:fontcolor=white:"
                f"fontsize={size}:line_spacing={size // 3}:x=(w-text_w)/2:y=(h-text_h)/2"
            )
            if job.ext == "mp4":
                filters.append(
                    f"drawtext=text='%{{pts\\:hms}}':fontcolor=white@0.8:fontsize={size}:"
                    "x=(w-text_w)/2:y=h-3*text_h"
                )
        command = [
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
        ]
        if filters:
            command += ["-vf", ",".join(filters)]
        if job.ext == "mp4":
            label = job.variant or "main"
            command += [
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "stillimage",
                "-pix_fmt",
                "yuv420p",
                "-b:v",
                VIDEO_BITRATE,
                "-movflags",
                "+faststart",
                "-metadata",
                f"title=KIE emulator clip {job.task_id}",
                "-metadata",
                f"comment=kie-emulator task_id={job.task_id} variant={label}",
                "-an",
                "-f",
                "mp4",
                output.name,
            ]
        else:
            # An 8-bit palette keeps a flat-colour cover at a few tens of KB even at 4K.
            command += [
                "-frames:v",
                "1",
                "-pix_fmt",
                "pal8",
                "-c:v",
                "png",
                "-compression_level",
                "9",
                "-f",
                "image2",
                output.name,
            ]
        # ffmpeg's path, fixed options, file paths and a caption file this process wrote: no shell, nothing a
        # request can inject.
        result = subprocess.run(  # noqa: S603
            command,
            cwd=output.parent,
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr.strip()[-500:]}")
