"""Media bodies: the shipped sample clip and cover, synthetic bodies of any size, and HTTP range handling.

The package data under ``assets/`` was generated once with ffmpeg 5.1 (not a runtime dependency)::

    ffmpeg -f lavfi -i "testsrc2=size=320x180:rate=24:duration=3" -c:v libx264 -profile:v baseline \
        -level 3.0 -pix_fmt yuv420p -crf 30 -preset veryslow -movflags +faststart -an sample.mp4
    ffmpeg -f lavfi -i "testsrc2=size=320x180:rate=1:duration=1" -frames:v 1 cover.png

``sample.mp4`` is a real, playable 3 s H.264 (Constrained Baseline, yuv420p, faststart) 320x180 clip of ~39
KB; ``cover.png`` is a 320x180 PNG of ~7 KB. Produced media are rendered per task by :mod:`.render`; these
files are what it serves without ffmpeg (or with ``media_renderer="sample"``), and test inputs.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator
from importlib import resources

from starlette.responses import Response, StreamingResponse

VIDEO_TYPE = "video/mp4"
IMAGE_TYPE = "image/png"
#: Largest synthetic body served (1 TiB): big enough for any benchmark, small enough to catch a typo.
MAX_SYNTHETIC_BYTES = 1 << 40
_CHUNK = 256 * 1024
# Synthetic byte at offset i is i % 256: any range is a slice of this block, so nothing large is ever held.
_PATTERN = bytes(range(256)) * (_CHUNK // 256 + 1)

ByteRange = tuple[int, int]


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes beyond the end of the body (answered 416)."""


@functools.cache
def sample_video() -> bytes:
    """The shipped MP4 clip."""
    return resources.files(__package__).joinpath("assets/sample.mp4").read_bytes()


@functools.cache
def cover_image() -> bytes:
    """The shipped PNG cover."""
    return resources.files(__package__).joinpath("assets/cover.png").read_bytes()


def synthetic_bytes(start: int, end: int) -> bytes:
    """Bytes ``start..end`` (inclusive) of a synthetic body, for small reads (file-url-upload)."""
    out = bytearray()
    pos = start
    while pos <= end:
        n = min(_CHUNK, end - pos + 1)
        out += _PATTERN[pos % 256 : pos % 256 + n]
        pos += n
    return bytes(out)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for by ``header``, or ``None`` to serve the whole body.

    Multi-range and malformed headers are ignored (serving 200 is allowed by RFC 9110); a range starting past
    the end raises :class:`RangeNotSatisfiable`.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[len("bytes=") :].strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise RangeNotSatisfiable
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start > end and last:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(end, size - 1)


def _headers(size: int, etag: str, byte_range: ByteRange | None) -> dict[str, str]:
    headers = {"Accept-Ranges": "bytes", "ETag": etag}
    if byte_range is None:
        headers["Content-Length"] = str(size)
    else:
        start, end = byte_range
        headers["Content-Length"] = str(end - start + 1)
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return headers


def _not_satisfiable(size: int) -> Response:
    return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})


def bytes_response(data: bytes, media_type: str, *, method: str, range_header: str | None) -> Response:
    """Serve ``data`` with Content-Length, ETag, HEAD and single-range (206) support."""
    size = len(data)
    try:
        byte_range = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return _not_satisfiable(size)
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    headers = _headers(size, etag, byte_range)
    status = 200 if byte_range is None else 206
    if method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    body = data if byte_range is None else data[byte_range[0] : byte_range[1] + 1]
    return Response(body, status_code=status, headers=headers, media_type=media_type)


async def _stream_synthetic(start: int, end: int) -> AsyncIterator[bytes]:
    pos = start
    while pos <= end:
        n = min(_CHUNK, end - pos + 1)
        offset = pos % 256
        yield _PATTERN[offset : offset + n]
        pos += n


def synthetic_response(size: int, *, method: str, range_header: str | None) -> Response:
    """Stream a synthetic ``video/mp4`` body of ``size`` bytes (not a playable video) without buffering it."""
    try:
        byte_range = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return _not_satisfiable(size)
    headers = _headers(size, f'"synthetic-{size}"', byte_range)
    status = 200 if byte_range is None else 206
    if method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=VIDEO_TYPE)
    start, end = byte_range if byte_range is not None else (0, size - 1)
    return StreamingResponse(
        _stream_synthetic(start, end), status_code=status, headers=headers, media_type=VIDEO_TYPE
    )
