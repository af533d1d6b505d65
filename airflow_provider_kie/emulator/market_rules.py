"""The vocabulary of the Market catalogue: field rules, prices and clip shapes, declared per model.

Each documented model of KIE's Market (``/api/v1/jobs/createTask``) is a :class:`MarketModel` built from these
parts in :mod:`.market_catalogue`. Validation follows KIE's OpenAPI pages literally: a documented string enum
(``"duration": "5"``) refuses the number 5, a ``required`` field must be present (``null`` counts as missing),
and every refusal is a 422 whose message starts with ``input.<field>``. Fields a page does not document are
ignored, as KIE ignores unknown fields elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_kie.emulator.dimensions import ClipShape, clip_shape
from airflow_provider_kie.emulator.errors import validation_error
from airflow_provider_kie.emulator.urlcheck import is_http_url

FieldKind = Literal["string", "boolean", "integer", "number", "url", "urls", "choice"]
#: What a field tells the emulator about the produced clip (its media, not its validation).
Role = Literal["duration", "resolution", "aspect"]
#: A cross-field rule: the resolved input (defaults applied) -> an error message, or ``None``.
Check = Callable[[Mapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class Field:
    """One documented ``input`` field and its rules.

    Attributes:
        name: KIE's field name.
        kind: ``string``/``url`` (a JSON string; ``url`` must be http(s)), ``urls`` (a list of URLs),
            ``boolean``, ``integer``, ``number``, or ``choice`` (one of ``choices``, type included).
        required: The page lists it under ``required``; a missing or null value is a 422.
        choices: The documented enum, as JSON values (``"5"`` is not ``5``).
        max_length: Longest string.
        minimum: Smallest number (inclusive).
        maximum: Largest number (inclusive).
        max_items: Most URLs in a ``urls`` list.
        numeric_string: A ``number``/``integer`` that may also come as a numeric string (pages whose schema
            says number while their own example sends ``"6"``).
        default: The documented default, used for prices and clip shapes when the field is absent.
        role: What the value says about the produced clip.
    """

    name: str
    kind: FieldKind
    required: bool = False
    choices: tuple[Any, ...] = ()
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_items: int | None = None
    numeric_string: bool = False
    default: Any = None
    role: Role | None = None

    def check(self, value: Any) -> None:
        """Raise KIE's 422 unless ``value`` (present, not null) obeys this field's rules."""
        label = f"input.{self.name}"
        if self.kind == "choice":
            if not any(value == c and type(value) is type(c) for c in self.choices):
                shown = ", ".join(repr(c) if isinstance(c, str) else str(c).lower() for c in self.choices)
                raise validation_error(f"{label} must be one of {shown}")
        elif self.kind in ("string", "url"):
            _check_string(label, value, self)
        elif self.kind == "urls":
            _check_urls(label, value, self.max_items)
        elif self.kind == "boolean":
            if not isinstance(value, bool):
                raise validation_error(f"{label} must be a boolean")
        else:
            _check_number(label, value, self)


def _check_string(label: str, value: Any, rule: Field) -> None:
    if not isinstance(value, str):
        raise validation_error(f"{label} must be a string")
    if rule.required and not value.strip():
        raise validation_error(f"{label} is required")
    if rule.max_length is not None and len(value) > rule.max_length:
        raise validation_error(f"{label} must be at most {rule.max_length} characters (got {len(value)})")
    if rule.kind == "url" and value and not is_http_url(value):
        raise validation_error(f"{label} must be an http(s) URL")


def _check_urls(label: str, value: Any, max_items: int | None) -> None:
    if not isinstance(value, list):
        raise validation_error(f"{label} must be a list of URLs")
    if max_items is not None and len(value) > max_items:
        raise validation_error(f"{label} takes at most {max_items} URL(s) (got {len(value)})")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not is_http_url(item):
            raise validation_error(f"{label}.{index} must be an http(s) URL")


def _check_number(label: str, value: Any, rule: Field) -> None:
    number = as_number(value) if rule.numeric_string else value
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise validation_error(f"{label} must be a number")
    if rule.kind == "integer" and number != int(number):
        raise validation_error(f"{label} must be an integer")
    if rule.minimum is not None and number < rule.minimum:
        raise validation_error(f"{label} must be >= {rule.minimum:g}")
    if rule.maximum is not None and number > rule.maximum:
        raise validation_error(f"{label} must be <= {rule.maximum:g}")


def as_number(value: Any) -> Any:
    """``value`` as a float when it is a numeric string, else unchanged."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# Short constructors keep the catalogue table readable.
def text(name: str, *, required: bool = False, max_length: int | None = None) -> Field:
    """A string field."""
    return Field(name, "string", required=required, max_length=max_length)


def url(name: str, *, required: bool = False) -> Field:
    """An http(s) URL field (KIE downloads it; the offline emulator does not)."""
    return Field(name, "url", required=required)


def urls(name: str, *, required: bool = False, max_items: int | None = None) -> Field:
    """A list of http(s) URLs."""
    return Field(name, "urls", required=required, max_items=max_items)


def flag(name: str, *, required: bool = False, default: bool | None = None) -> Field:
    """A boolean field."""
    return Field(name, "boolean", required=required, default=default)


def choice(
    name: str, *choices: Any, required: bool = False, default: Any = None, role: Role | None = None
) -> Field:
    """An enum field (JSON type included in the comparison)."""
    return Field(name, "choice", required=required, choices=choices, default=default, role=role)


def number(
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    required: bool = False,
    default: float | None = None,
    numeric_string: bool = False,
    role: Role | None = None,
) -> Field:
    """A number (or integer) field with an optional range."""
    kind: FieldKind = "integer" if integer else "number"
    return Field(
        name,
        kind,
        required=required,
        minimum=minimum,
        maximum=maximum,
        default=default,
        numeric_string=numeric_string,
        role=role,
    )


@dataclass(frozen=True)
class Price:
    """Credits of one task, looked up from the resolved input.

    ``keys`` name input fields; their values (as lower-case strings, booleans as ``true``/``false``) form
    the key into ``table``, where ``"*"`` matches anything. With ``per_second`` the found rate is multiplied
    by the clip's duration. Fractions are rounded up: the emulated balance is a whole number of credits.
    """

    keys: tuple[str, ...]
    table: Mapping[tuple[str, ...], float]
    per_second: bool = False

    def credits(self, values: Mapping[str, Any], duration_s: float) -> int:
        """Credits for ``values``; raises KIE's 422 when the combination has no documented price."""
        wanted = tuple(_key_text(values.get(name)) for name in self.keys)
        for key, rate in self.table.items():
            if all(k in ("*", w) for k, w in zip(key, wanted, strict=True)):
                return math.ceil(rate * duration_s if self.per_second else rate)
        combo = ", ".join(f"{name}={value}" for name, value in zip(self.keys, wanted, strict=True))
        raise validation_error(f"input: {combo} is not an available combination")


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).lower()


def fixed(credits: float) -> Price:
    """A price that does not depend on the input."""
    return Price((), {(): credits})


@dataclass(frozen=True)
class MarketModel:
    """A Market model KIE documents: its page, ``input`` rules, price and output.

    Attributes:
        name: The ``model`` value.
        family: Catalogue family (``kling``, ``sora2``, ``wan``...), as the provider's typed operators group
            them.
        doc_url: KIE's page for the model (cited, and shown in ``GET /_emulator/catalogue``).
        fields: Documented ``input`` fields.
        price: Credits charged at submission.
        checks: Cross-field rules the page states in prose (e.g. "1080P does not support 10 s").
        outputs: Results one task yields (``resultUrls`` length).
        media: ``video`` or ``image`` (an image model's results are PNGs).
        shape_defaults: Clip properties the page leaves implicit, keyed by :data:`Role` (the emulator's
            assumption, not KIE's word: KIE does not state output sizes).
        value_aliases: Per role, field values that stand for a ratio or resolution (Sora's ``size: high``
            is 1080p; Topaz's ``upscale_factor: 4`` of an assumed 360p source is 1440p).
    """

    name: str
    family: str
    doc_url: str
    fields: tuple[Field, ...]
    price: Price
    checks: tuple[Check, ...] = ()
    outputs: int = 1
    media: Literal["video", "image"] = "video"
    shape_defaults: Mapping[str, Any] = field(default_factory=dict)
    value_aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def validate(self, model_input: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``model_input`` against the page; return it with documented defaults filled in."""
        resolved = dict(model_input)
        for rule in self.fields:
            value = model_input.get(rule.name)
            if value is None:
                if rule.required:
                    raise validation_error(f"input.{rule.name} is required")
                if rule.default is not None:
                    resolved[rule.name] = rule.default
                continue
            rule.check(value)
        for check in self.checks:
            problem = check(resolved)
            if problem:
                raise validation_error(problem)
        return resolved

    def role_value(self, role: Role, resolved: Mapping[str, Any]) -> Any:
        """The value the request gives ``role``: its field, the field's default, or the model's assumption."""
        for rule in self.fields:
            if rule.role == role and resolved.get(rule.name) is not None:
                value = resolved[rule.name]
                return self.value_aliases.get(role, {}).get(str(value), value)
        return self.shape_defaults.get(role)

    def shape(self, resolved: Mapping[str, Any]) -> ClipShape:
        """The clip this request produces (frame size from ratio and resolution, its duration)."""
        duration = as_number(self.role_value("duration", resolved))
        seconds = float(duration) if isinstance(duration, (int, float)) and duration > 0 else 5.0
        return clip_shape(
            _opt_str(self.role_value("aspect", resolved)),
            _opt_str(self.role_value("resolution", resolved)),
            seconds,
        )

    def credits(self, resolved: Mapping[str, Any]) -> int:
        """Credits this request costs."""
        return self.price.credits(resolved, self.shape(resolved).duration_s)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def one_of_required(*names: str) -> Check:
    """Exactly one of ``names`` must be given (pages that offer alternative inputs)."""

    def check(values: Mapping[str, Any]) -> str | None:
        given = [name for name in names if values.get(name) not in (None, [], "")]
        if len(given) != 1:
            return f"input.{names[0]}: give exactly one of {', '.join('input.' + n for n in names)}"
        return None

    return check


def forbid(field_name: str, value: Any, *, when: str, equals: Any, reason: str) -> Check:
    """``field_name == value`` is refused while ``when == equals`` (a documented incompatibility)."""

    def check(values: Mapping[str, Any]) -> str | None:
        if values.get(field_name) == value and _matches(values.get(when), equals):
            return f"input.{field_name}: {reason}"
        return None

    return check


def _matches(actual: Any, expected: Any) -> bool:
    if expected is Ellipsis:  # "is given at all"
        return actual not in (None, [], "")
    return bool(actual == expected)
