"""Media inputs for Runway's API: https URLs, data URIs, Runway upload URIs, and local files made data URIs.

Runway's rules (https://docs.dev.runwayml.com/assets/inputs, and the seed copy of that page):

* a URL must be https, name a domain rather than an IP address, and be at most 2048 characters; Runway
  fetches it itself (no redirects, a real ``Content-Type``). Plain http is accepted here only for loopback
  hosts, so the offline emulator's own media can be used;
* a data URI must carry a content type and be base64; its *encoded* length must be under 5 MB (1024 x 1024 x
  5 characters). Runway's inputs page of 2026 allows 16 MB for video data URIs, but the runwayml SDK 5.24
  field docs say "up to 5MB" for videos too, and the 5 MB rule "supersedes type-specific limits" in the
  guide this provider was specified from: the lower figure is enforced, since a refused create costs a round
  trip and a too-permissive check would only move the error to Runway;
* ``runway://`` URIs (Runway's ephemeral uploads, ``POST /v1/uploads`` in the SDK) pass through unchecked.

A local path, ``file://`` URL or :class:`~airflow_provider_kie.client.models.LocalFile` (which also wraps an
Airflow ``ObjectStoragePath``) is sent as a data URI, read when the payload is built. A local file's size is
checked at once (a ``stat``, no read), so a file too big for a data URI fails before anything else happens;
the message says to pass an https URL instead.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from airflow_provider_kie.client.models import LocalFile, _is_loopback

__all__ = [
    "CONTENT_TYPES",
    "MAX_DATA_URI_LENGTH",
    "MAX_URL_LENGTH",
    "MediaKind",
    "check_input",
    "content_type_for",
    "data_uri_length",
    "to_data_uri",
]

MediaKind = Literal["image", "video"]

#: The encoded length a data URI must stay under (https://docs.dev.runwayml.com/assets/inputs).
MAX_DATA_URI_LENGTH = 5 * 1024 * 1024
#: The longest URL Runway fetches.
MAX_URL_LENGTH = 2048
#: Content types Runway accepts per input kind (the inputs page's codec tables).
CONTENT_TYPES: dict[MediaKind, tuple[str, ...]] = {
    "image": ("image/jpeg", "image/jpg", "image/png", "image/webp"),
    "video": ("video/mp4", "video/webm", "video/quicktime", "video/mov", "video/ogg", "video/h264"),
}
#: What a local file's suffix says it is; Runway ignores extensions, but a data URI must name a type.
_TYPE_BY_SUFFIX = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".ogv": "video/ogg",
    ".ogg": "video/ogg",
}
_DATA_URI = re.compile(r"^data:(?P<type>[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)(?P<params>(;[^;,]*)*),", re.ASCII)

INPUT_RULE = (
    "must be an https:// URL (http:// only for loopback hosts such as the local emulator), a data: URI, "
    "a runway:// upload URI, or a local file"
)


def _too_big(length: int) -> str:
    return (
        f"would be a data URI of {length:,} characters, over the Runway API's limit of "
        f"{MAX_DATA_URI_LENGTH:,} (5 MiB encoded: base64 adds a third, so about 3.75 MiB of file); put "
        "the file at an https:// URL Runway can fetch (16 MB images, 32 MB videos) and pass that URL instead"
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_url(value: str) -> str:
    """``value`` if Runway can fetch it (see the module docstring), else ``ValueError`` with the rule."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise ValueError(INPUT_RULE)
    loopback = _is_loopback(host)
    if parts.scheme == "http" and not loopback:
        raise ValueError(
            "must be an https:// URL: the Runway API fetches inputs over HTTPS only (http:// is accepted "
            "only for loopback hosts such as the local emulator)"
        )
    if _is_ip(host) and not loopback:
        raise ValueError("must name a domain, not an IP address: the Runway API refuses IP-address URLs")
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters long (got {len(value)})")
    return value


def check_data_uri(value: str, media: MediaKind) -> str:
    """``value`` if it is a base64 data URI of an accepted ``media`` type under the size limit."""
    match = _DATA_URI.match(value)
    if match is None:
        raise ValueError("is not a data URI Runway accepts: it must start like data:image/png;base64,")
    content_type = match["type"].lower()
    if content_type not in CONTENT_TYPES[media]:
        raise ValueError(
            f"is a data URI of {content_type}; the Runway API takes {media} data URIs of "
            + ", ".join(CONTENT_TYPES[media])
        )
    if ";base64" not in match["params"].lower():
        raise ValueError("must be a base64 data URI (data:<type>;base64,...): Runway may refuse any other")
    if len(value) >= MAX_DATA_URI_LENGTH:
        raise ValueError(_too_big(len(value)))
    return value


def content_type_for(name: str, media: MediaKind) -> str:
    """The content type a local file's suffix stands for; ``ValueError`` when it is no ``media`` type."""
    suffix = os.path.splitext(name)[1].lower()
    content_type = _TYPE_BY_SUFFIX.get(suffix)
    if content_type is None or content_type not in CONTENT_TYPES[media]:
        wanted = sorted(s for s, t in _TYPE_BY_SUFFIX.items() if t in CONTENT_TYPES[media])
        raise ValueError(
            f"is {name!r}, whose name does not say it is an {media} type the Runway API takes (a data URI "
            f"must name its type): use a file ending in {', '.join(wanted)}"
        )
    return content_type


def data_uri_length(size: int, content_type: str) -> int:
    """Characters of the data URI of a ``size``-byte file: the prefix plus base64's 4 per 3 bytes."""
    return len(f"data:{content_type};base64,") + 4 * math.ceil(size / 3)


def check_input(value: Any, media: MediaKind) -> str | LocalFile:
    """Validate one media input when a request is built; returns what the request keeps.

    Strings that are URLs or data URIs are checked and kept; anything else must be an existing file (a path,
    ``file://`` URL, :class:`LocalFile` or object with ``read_bytes()``) and is kept as a :class:`LocalFile`,
    made a data URI by :func:`to_data_uri` when the payload is built.
    """
    if isinstance(value, str):
        text = value.strip()
        if text[:5].lower() == "data:":
            return check_data_uri(text, media)
        if text.startswith("runway://"):
            return text
        if "://" in text and not text.startswith("file://"):
            return check_url(text)
        source: Any = text.removeprefix("file://")
    else:
        source = value.source if isinstance(value, LocalFile) else value
    if not isinstance(source, (str, os.PathLike)) and not hasattr(source, "read_bytes"):
        raise ValueError(INPUT_RULE + f" (got {type(source).__name__})")
    local = LocalFile(source)
    if not local.exists():
        raise ValueError(INPUT_RULE + f" (got {str(local)!r}, which does not exist)")
    content_type = content_type_for(local.name, media)
    if local.is_local_path:
        # A stat, not a read: the bytes are read once, when the payload is built.
        length = data_uri_length(os.path.getsize(local.local_path), content_type)
        if length >= MAX_DATA_URI_LENGTH:
            raise ValueError(f"is {str(local)!r}, which " + _too_big(length))
    return local


def to_data_uri(local: LocalFile, media: MediaKind) -> str:
    """The data URI of ``local``'s bytes; ``ValueError`` when it is over the limit (remote files are only
    measured here, once read)."""
    content_type = content_type_for(local.name, media)
    # LocalFile.read_bytes() serves objects with read_bytes() (ObjectStoragePath); a path is opened here.
    data = Path(local.local_path).read_bytes() if local.is_local_path else local.read_bytes()
    length = data_uri_length(len(data), content_type)
    if length >= MAX_DATA_URI_LENGTH:
        raise ValueError(f"is {str(local)!r}, which " + _too_big(length))
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
