"""Typed KIE request models that validate locally, before any request is sent.

Fields use Python names (``aspect_ratio``); ``to_payload()`` gives KIE's camelCase JSON. Building a model
with bad values raises :class:`~airflow_provider_kie.client.errors.KieValidationError`, which names every
field and the rule it broke, so a DAG fails before it spends a credit.

Values that Airflow templating renders as strings (``"5"`` for a duration) are accepted where the meaning is
unambiguous, and empty strings for optional URLs mean "not given".
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from airflow_provider_kie.client.errors import FieldError, KieValidationError

__all__ = [
    "ALEPH_ASPECT_RATIOS",
    "MAX_PROMPT_LENGTH",
    "RUNWAY_ASPECT_RATIOS",
    "AlephGenerateRequest",
    "KieRequest",
    "LocalFile",
    "RunwayExtendRequest",
    "RunwayGenerateRequest",
]

MAX_PROMPT_LENGTH = 1800
RUNWAY_ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16")
ALEPH_ASPECT_RATIOS = ("16:9", "9:16", "4:3", "3:4", "1:1", "21:9")

RunwayAspectRatio = Literal["16:9", "4:3", "1:1", "3:4", "9:16"]
AlephAspectRatio = Literal["16:9", "9:16", "4:3", "3:4", "1:1", "21:9"]
Quality = Literal["720p", "1080p"]

URL_RULE = "must be an https:// URL (http:// is accepted only for loopback hosts such as the local emulator)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str) -> str:
    """Return ``value`` if it is a URL KIE can fetch, else raise ``ValueError`` with the rule.

    KIE fetches inputs from the public internet, so only https is accepted; plain http is allowed for
    loopback hosts so the offline emulator (which serves http on 127.0.0.1) works end to end.
    """
    parts = urlsplit(value.strip())
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise ValueError(URL_RULE)
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(URL_RULE)
    return value.strip()


FILE_RULE = "must be an https:// URL or an existing file to upload"


@dataclass(frozen=True)
class LocalFile:
    """An input that is not on the internet yet: a local path, or any object with ``read_bytes()``,
    ``exists()`` and ``name`` (an Airflow ``ObjectStoragePath`` such as ``s3://bucket/image.png``).

    A request may hold one in a field listed in its ``file_fields``; it cannot be sent until the file is
    uploaded to KIE's upload host and replaced by its URL (:meth:`KieRequest.with_uploads`,
    ``KieClient.upload_files``).
    """

    source: Any

    @property
    def name(self) -> str:
        return str(getattr(self.source, "name", None) or os.path.basename(os.fspath(self.source)))

    @property
    def is_local_path(self) -> bool:
        """True for a path on this machine (upload as a stream); False for remote object storage."""
        protocol = getattr(self.source, "protocol", None)
        return protocol is None or protocol in ("file", "local", "")

    @property
    def local_path(self) -> str:
        return str(getattr(self.source, "path", self.source))

    def exists(self) -> bool:
        if not self.is_local_path:
            return bool(self.source.exists())
        return os.path.isfile(self.local_path)

    def read_bytes(self) -> bytes:
        data: bytes = self.source.read_bytes()
        return data

    def __str__(self) -> str:
        return self.local_path if self.is_local_path else str(self.source)


def _url_or_file(value: Any) -> Any:
    """An input field that also takes a file to upload first: a URL is checked, anything else must exist."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and "://" in value and not value.strip().startswith("file://"):
        return check_url(value)
    source = value.source if isinstance(value, LocalFile) else value
    if isinstance(source, str):
        source = source.strip().removeprefix("file://")
    local = LocalFile(source)
    if not isinstance(source, (str, os.PathLike)) and not hasattr(source, "read_bytes"):
        raise ValueError(FILE_RULE + f" (got {type(source).__name__})")
    if not local.exists():
        raise ValueError(FILE_RULE + f" (got {str(local)!r}, which does not exist)")
    return local


def _optional_url(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return check_url(value)
    return value


def _prompt(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be blank")
        if len(value) > MAX_PROMPT_LENGTH:
            raise ValueError(f"must be at most {MAX_PROMPT_LENGTH} characters (got {len(value)})")
    return value


def _not_boolean(value: Any) -> Any:
    """Reject booleans where a number belongs: pydantic's lax mode would read ``True`` as 1."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not a boolean (got {value})")
    return value


def local_files(value: Any, key: str) -> Iterator[tuple[str, LocalFile]]:
    """Every :class:`LocalFile` in ``value`` (itself, or nested in lists and dicts), with its dotted key."""
    if isinstance(value, LocalFile):
        yield key, value
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from local_files(item, f"{key}.{name}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from local_files(item, f"{key}.{index}")


def replaced(value: Any, path: list[str], new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` (dict keys, list indexes) set to ``new``."""
    if not path:
        return new
    head, *rest = path
    if isinstance(value, Mapping):
        copy = dict(value)
        copy[head] = replaced(value[head], rest, new)
        return copy
    items = list(value)
    items[int(head)] = replaced(items[int(head)], rest, new)
    return items


def _to_field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "request"
        rule = err["msg"]
        # pydantic prefixes messages raised from our validators; the rule alone reads better.
        rule = rule.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            rule = "is not a known parameter"
        if not err["loc"] and ": " in rule:
            # Cross-field rules are raised as "field: rule" by the model validators below.
            field, rule = rule.split(": ", 1)
        errors.append(FieldError(field=field, rule=rule))
    return errors


class KieRequest(BaseModel):
    """Base of all request models: strict field names, camelCase payloads, typed validation errors."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    #: KIE's name of each field whose camelCase is not mechanical.
    _aliases: ClassVar[dict[str, str]] = {}
    #: Input fields that also take a :class:`LocalFile`, uploaded to KIE's upload host before the submit.
    file_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            # ``from None``: pydantic's own error repeats the input values, prompts included.
            raise KieValidationError(type(self).__name__, _to_field_errors(exc)) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """pydantic's entry point for a dict, with the same typed error as the constructor."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            # pydantic runs our __init__ for a dict and wraps its KieValidationError: unwrap it.
            for error in exc.errors():
                cause = error.get("ctx", {}).get("error")
                if isinstance(cause, KieValidationError):
                    raise cause from None
            raise KieValidationError(cls.__name__, _to_field_errors(exc)) from None

    def pending_uploads(self) -> dict[str, LocalFile]:
        """The files still to upload, by key: the field name (``image_url``), dotted into lists and
        objects (``image_urls.1``, ``input.image_urls.0``)."""
        found: dict[str, LocalFile] = {}
        for name in self.file_fields:
            found.update(local_files(getattr(self, name), name))
        return found

    def with_uploads(self, urls: dict[str, str]) -> Self:
        """This request with each pending file replaced by its uploaded URL (KIE's own https link).

        :param urls: uploaded URL by key, as :meth:`pending_uploads` names them.
        """
        unknown = set(urls) - set(self.pending_uploads())
        if unknown:
            raise ValueError(f"no pending upload in {sorted(unknown)}")
        update: dict[str, Any] = {}
        for key, url in urls.items():
            name, *path = key.split(".")
            update[name] = replaced(update.get(name, getattr(self, name)), path, url)
        return self.model_copy(update=update)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body KIE expects: camelCase keys, unset optional fields left out."""
        pending = self.pending_uploads()
        if pending:
            raise KieValidationError(
                type(self).__name__,
                [
                    FieldError(name, "holds a local file: upload it first (KieClient.upload_files)")
                    for name in pending
                ],
            )
        payload = {}
        for name, value in self.model_dump(exclude_none=True).items():
            payload[self._aliases.get(name, name)] = value
        return payload


class RunwayGenerateRequest(KieRequest):
    """``POST /api/v1/runway/generate``: text-to-video, or image-to-video when ``image_url`` is given.

    :param prompt: what the clip shows, 1-1800 characters.
    :param duration: 5 or 10 seconds.
    :param quality: ``720p`` or ``1080p``; 1080p only with a 5 s duration.
    :param aspect_ratio: one of 16:9, 4:3, 1:1, 3:4, 9:16. Required for text-to-video; KIE ignores it when
        ``image_url`` is given (the image decides).
    :param image_url: a public https image to animate, or a :class:`LocalFile` (a path) to upload first.
    :param watermark: watermark text; empty for none.
    :param callback_url: KIE POSTs the result there when the task ends.
    """

    _aliases: ClassVar[dict[str, str]] = {
        "aspect_ratio": "aspectRatio",
        "image_url": "imageUrl",
        "watermark": "waterMark",
        "callback_url": "callBackUrl",
    }
    file_fields: ClassVar[tuple[str, ...]] = ("image_url",)

    prompt: str
    duration: int
    quality: Quality
    aspect_ratio: RunwayAspectRatio | None = None
    image_url: str | LocalFile | None = None
    watermark: str = ""
    callback_url: str | None = None

    _check_prompt = field_validator("prompt")(_prompt)
    _check_inputs = field_validator("image_url", mode="before")(_url_or_file)
    _check_urls = field_validator("callback_url", mode="before")(_optional_url)
    _check_numbers = field_validator("duration", mode="before")(_not_boolean)

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: int) -> int:
        if value not in (5, 10):
            raise ValueError(f"must be 5 or 10 seconds (got {value})")
        return value

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _empty_ratio(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _combinations(self) -> RunwayGenerateRequest:
        if self.quality == "1080p" and self.duration != 5:
            raise ValueError("quality: 1080p is only available with duration 5 (got duration 10)")
        if self.aspect_ratio is None and self.image_url is None:
            raise ValueError("aspect_ratio: is required for text-to-video (when no image_url is given)")
        return self

    @property
    def is_image_to_video(self) -> bool:
        return self.image_url is not None


class RunwayExtendRequest(KieRequest):
    """``POST /api/v1/runway/extend``: continue a succeeded generate or extend task.

    :param task_id: the KIE task to continue; it must have succeeded.
    :param prompt: how the clip continues, 1-1800 characters.
    :param quality: ``720p`` or ``1080p``.
    :param watermark: watermark text; empty for none.
    :param callback_url: KIE POSTs the result there when the task ends.
    """

    _aliases: ClassVar[dict[str, str]] = {
        "task_id": "taskId",
        "watermark": "waterMark",
        "callback_url": "callBackUrl",
    }

    task_id: str
    prompt: str
    quality: Quality
    watermark: str = ""
    callback_url: str | None = None

    _check_prompt = field_validator("prompt")(_prompt)
    _check_urls = field_validator("callback_url", mode="before")(_optional_url)

    @field_validator("task_id")
    @classmethod
    def _task_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the id of a succeeded KIE task (got an empty string)")
        return value.strip()


class AlephGenerateRequest(KieRequest):
    """``POST /api/v1/aleph/generate``: restyle or edit an existing video (video-to-video).

    :param prompt: the edit to make, 1-1800 characters.
    :param video_url: a public https video, at most 10 MB (only its first 5 s are used), or a
        :class:`LocalFile` to upload first.
    :param aspect_ratio: one of 16:9, 9:16, 4:3, 3:4, 1:1, 21:9.
    :param seed: an integer for reproducible results.
    :param reference_image: a public https image to guide the style, or a :class:`LocalFile`.
    :param watermark: watermark text; empty for none.
    :param upload_cn: upload through KIE's mainland-China route.
    :param callback_url: KIE POSTs the result there when the task ends.
    """

    _aliases: ClassVar[dict[str, str]] = {
        "video_url": "videoUrl",
        "aspect_ratio": "aspectRatio",
        "reference_image": "referenceImage",
        "watermark": "waterMark",
        "upload_cn": "uploadCn",
        "callback_url": "callBackUrl",
    }

    file_fields: ClassVar[tuple[str, ...]] = ("video_url", "reference_image")

    prompt: str
    video_url: str | LocalFile
    aspect_ratio: AlephAspectRatio | None = None
    seed: int | None = None
    reference_image: str | LocalFile | None = None
    watermark: str = ""
    upload_cn: bool | None = None
    callback_url: str | None = None

    _check_prompt = field_validator("prompt")(_prompt)
    _check_inputs = field_validator("reference_image", mode="before")(_url_or_file)
    _check_urls = field_validator("callback_url", mode="before")(_optional_url)
    _check_numbers = field_validator("seed", mode="before")(_not_boolean)

    @field_validator("video_url", mode="before")
    @classmethod
    def _video_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("is required: the video to restyle")
        return _url_or_file(value)

    @field_validator("aspect_ratio", "seed", mode="before")
    @classmethod
    def _empty_optional(cls, value: Any) -> Any:
        return None if value == "" else value


def __getattr__(name: str) -> Any:
    # ``JobsCreateTaskRequest`` moved to :mod:`market` as ``MarketJobRequest``; the old name stays
    # importable from here (lazily: market imports this module).
    if name == "JobsCreateTaskRequest":
        from airflow_provider_kie.client.market import MarketJobRequest

        return MarketJobRequest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
