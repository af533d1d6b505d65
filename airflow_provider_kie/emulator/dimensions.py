"""Frame sizes of produced clips: from the aspect ratio and resolution a request asked for to width x height.

KIE never states the pixel size of its outputs; the conventional sizes are used (a "720p" clip has a short
side of 720 pixels: 1280x720 in 16:9, 720x1280 in 9:16, 720x720 in 1:1). Both sides are rounded to even
numbers, because H.264 in yuv420p needs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Used when a request names no ratio (image-to-video, where KIE keeps the image's ratio, which the offline
#: emulator cannot read) or names an automatic one.
DEFAULT_ASPECT = "16:9"
DEFAULT_RESOLUTION = "720p"
#: Ratio words some models use instead of ``W:H`` (Sora 2's ``portrait``/``landscape``; ``auto``/``adaptive``
#: mean "decided from the input", which the emulator cannot see).
ASPECT_ALIASES = {
    "portrait": "9:16",
    "landscape": "16:9",
    "auto": DEFAULT_ASPECT,
    "adaptive": DEFAULT_ASPECT,
}
#: Resolution words mapped to a short side in pixels ("4k" is UHD, 3840x2160 in 16:9).
RESOLUTION_ALIASES = {"4k": 2160, "2k": 1440, "sd": 480, "hd": 720, "fhd": 1080}
_RATIO = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")
_LINES = re.compile(r"^\s*(\d{3,4})\s*[pP]\s*$")


@dataclass(frozen=True)
class ClipShape:
    """What a produced video looks like: frame size and length."""

    width: int
    height: int
    duration_s: float

    def __post_init__(self) -> None:
        if self.width < 2 or self.height < 2 or self.duration_s <= 0:
            raise ValueError(f"invalid clip shape {self}")

    @property
    def size(self) -> str:
        """``WxH``, as ffmpeg and ffprobe spell it."""
        return f"{self.width}x{self.height}"


def _even(value: float) -> int:
    return max(2, round(value / 2.0) * 2)


def short_side(resolution: str | None) -> int:
    """Pixels of the short side for ``720p``, ``1080P``, ``768P``, ``4k``...; 720 when unknown or absent."""
    text = (resolution or DEFAULT_RESOLUTION).strip().lower()
    if text in RESOLUTION_ALIASES:
        return RESOLUTION_ALIASES[text]
    match = _LINES.match(text)
    return int(match.group(1)) if match else short_side(DEFAULT_RESOLUTION)


def ratio_of(aspect: str | None) -> tuple[int, int]:
    """``(w, h)`` of ``16:9``-style ratios or their aliases; 16:9 when unknown or absent."""
    text = (aspect or DEFAULT_ASPECT).strip().lower()
    text = ASPECT_ALIASES.get(text, text)
    match = _RATIO.match(text)
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        return ratio_of(DEFAULT_ASPECT)
    return int(match.group(1)), int(match.group(2))


def frame_size(aspect: str | None, resolution: str | None) -> tuple[int, int]:
    """Width and height of a frame with ``aspect`` whose short side is ``resolution``'s."""
    w, h = ratio_of(aspect)
    short = short_side(resolution)
    if w >= h:
        return _even(short * w / h), _even(short)
    return _even(short), _even(short * h / w)


def clip_shape(aspect: str | None, resolution: str | None, duration_s: float) -> ClipShape:
    """The :class:`ClipShape` of a ``duration_s`` clip with ``aspect`` at ``resolution``."""
    width, height = frame_size(aspect, resolution)
    return ClipShape(width, height, float(duration_s))
