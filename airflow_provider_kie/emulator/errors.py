"""KIE's answers to requests it refuses, as one exception the routes turn into an envelope."""

from __future__ import annotations

from collections.abc import Mapping

# Messages modelled on KIE's own, so clients that log them show something familiar.
MSG_UNAUTHORIZED = "You do not have access permissions"
MSG_INSUFFICIENT_CREDITS = "The current credits are insufficient. Please top up."
MSG_RATE_LIMITED = "Too many requests, please try again later."
MSG_RECORD_NULL = "recordInfo is null"
MSG_MAINTENANCE = "The system is currently undergoing maintenance, please try again later."
MSG_SERVER_ERROR = "Server error, please try again later."
MSG_CONCURRENCY = "Reached the limit for concurrent generations"
MSG_MODERATION = "Your prompt was caught by our AI moderator. Please adjust it and try again!"
MSG_GENERATION_FAILED = "Generation failed, please try again later"


class KieRefusal(Exception):
    """A refusal answered as ``{"code": code, "msg": msg, "data": null}``.

    Not ``KieError``: the client's ``KieError`` is the base of everything the client raises (transport
    failures included); this is only KIE's own "no", which the routes turn into an envelope. Not a "fault"
    either: faults are what :mod:`~airflow_provider_kie.emulator.faults` injects.

    Attributes:
        code: The body code (KIE's real status).
        msg: Human-readable reason; validation messages name the offending field first.
        http_status: The HTTP status. KIE answers most refusals with HTTP 200, which is the default.
        headers: Extra response headers (``Retry-After`` for 429).
    """

    def __init__(
        self, code: int, msg: str, *, http_status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers: dict[str, str] = dict(headers or {})


def validation_error(msg: str) -> KieRefusal:
    """KIE's 422: the parameters were understood but break a rule."""
    return KieRefusal(422, msg)
