"""The error tree of the KIE client, grouped by what failed, so a caller can catch by meaning.

KIE puts the real status in the body's ``code`` (often under HTTP 200), so API errors are keyed by that
code; the HTTP status is kept alongside for diagnosis. Every error also says whether sending the same request
again can help (``retryable``). No error message ever contains the API key: messages are built from KIE's
``msg``, the endpoint path and short body excerpts that the client redacts before raising.

```
KieError
├── KieValidationError              a local check failed; nothing was sent
├── KieConfigurationError           the client cannot be built (e.g. no API key)
├── KieRequestError                 no usable answer came
│   ├── KieTransportError           the request did not complete (connect error, timeout, dropped)
│   └── KieResponseError            the answer could not be understood (not JSON, no envelope)
├── KieAPIError                     KIE answered, and said no (one subclass per code)
│   ├── KieBusyError                429 rate limit, 455 maintenance: nothing created, come back later
│   └── KieAuthError, KieInsufficientCreditsError, KieServerError, ...
├── KieSubmitOutcomeUnknownError    a paid submit may or may not have created a task
├── KieSignatureError               a webhook callback failed its signature check
├── KieTaskError                    the task gave no clip
│   ├── KieTaskFailedError          it reached its failed state at KIE
│   │   └── KieTaskCancelledError   it was cancelled (Runway's own API: DELETE /v1/tasks/{id})
│   └── KieWaitTimeoutError         it did not finish within the time allowed
└── KieStorageError                 a finished clip could not be stored; the destination is untouched
```

The same tree serves the second backend, Runway's own API (:mod:`airflow_provider_kie.client.runway_api`):
its errors are built with ``service="Runway API"``, so messages name the service that answered, and an HTTP
status stands where KIE has a body code.

The Airflow-facing exceptions that operators raise live in :mod:`airflow_provider_kie.exceptions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldError",
    "KieAPIError",
    "KieAuthError",
    "KieBadRequestError",
    "KieBusyError",
    "KieConfigurationError",
    "KieError",
    "KieFeatureDisabledError",
    "KieGenerationFailedError",
    "KieImageFetchError",
    "KieInsufficientCreditsError",
    "KieMaintenanceError",
    "KieNotFoundError",
    "KieRateLimitError",
    "KieRequestError",
    "KieResponseError",
    "KieServerError",
    "KieSignatureError",
    "KieStorageError",
    "KieSubKeyLimitError",
    "KieSubmitOutcomeUnknownError",
    "KieTaskCancelledError",
    "KieTaskError",
    "KieTaskFailedError",
    "KieTaskNotFoundError",
    "KieTransportError",
    "KieUnknownCodeError",
    "KieUnprocessableError",
    "KieUpstreamTimeoutError",
    "KieValidationError",
    "KieWaitTimeoutError",
    "api_error_for_code",
]


class KieError(Exception):
    """Base class of every error raised by the KIE client."""

    #: Whether sending the same request again later can succeed.
    retryable: bool = False
    #: The service whose answer (or silence) this error reports, as messages name it: ``KIE``, or
    #: ``Runway API`` for the second backend.
    service: str = "KIE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the request field (its Python name) and the rule, in words."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class KieValidationError(KieError, ValueError):
    """A request failed local validation, so nothing was sent and no credits were spent."""

    def __init__(self, model: str, errors: Sequence[FieldError]) -> None:
        self.model = model
        self.errors = tuple(errors)
        detail = "; ".join(str(e) for e in self.errors)
        super().__init__(f"Invalid {model}: {detail}")

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the fields that broke a rule, in order."""
        return tuple(e.field for e in self.errors)

    def renamed(self, names: Mapping[str, str]) -> KieValidationError:
        """The same error with fields renamed (request field -> the caller's parameter name)."""
        return KieValidationError(
            self.model, [FieldError(names.get(e.field, e.field), e.rule) for e in self.errors]
        )


class KieConfigurationError(KieError):
    """The client cannot be configured as asked (missing API key, malformed base URL, ...)."""


class KieAPIError(KieError):
    """KIE answered, and its answer carries a non-200 code (in the body, the HTTP status, or both)."""

    #: The KIE code this class stands for; ``None`` on the base class.
    code_value: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: int,
        http_status: int,
        endpoint: str,
        retry_after: float | None = None,
        data: Any = None,
        service: str = "KIE",
    ) -> None:
        self.service = service
        self.code = code
        self.http_status = http_status
        self.endpoint = endpoint
        self.kie_message = message
        #: Seconds the server asked us to wait (``Retry-After``), if it said.
        self.retry_after = retry_after
        #: The envelope's ``data`` that came with the refusal. Usually null; a few endpoints put meaning
        #: there (a repeated Veo 4K request answers 422 with the 4K links once they exist). Never part of
        #: the message, which stays short and free of URLs.
        self.data = data
        super().__init__(f"{service} {endpoint} answered code {code} (HTTP {http_status}): {message}")


class KieBadRequestError(KieAPIError):
    """400: KIE rejected the request as malformed."""

    code_value = 400


class KieAuthError(KieAPIError):
    """401: the API key is missing or wrong. Fix the ``kie`` connection's password."""

    code_value = 401


class KieInsufficientCreditsError(KieAPIError):
    """402: the account has too few credits. Top up; retrying cannot help."""

    code_value = 402


class KieNotFoundError(KieAPIError):
    """404: the endpoint or resource does not exist."""

    code_value = 404


class KieUpstreamTimeoutError(KieAPIError):
    """408: KIE's upstream took more than 10 minutes."""

    code_value = 408
    retryable = True


class KieUnprocessableError(KieAPIError):
    """422: KIE's own validation refused the request."""

    code_value = 422


class KieTaskNotFoundError(KieUnprocessableError):
    """422 "recordInfo is null": KIE knows no task with that id (or not yet)."""


class KieBusyError(KieAPIError):
    """KIE turned the request away for load or upkeep: nothing was created, so sending it again later is
    safe, even for a paid submit. ``retry_after`` says how long KIE asked to wait, when it did."""

    retryable = True


class KieRateLimitError(KieBusyError):
    """429: more than ~20 new generations per 10 s. Not queued by KIE: wait and send again."""

    code_value = 429


class KieSubKeyLimitError(KieAPIError):
    """433: the sub-key's spending cap is exceeded."""

    code_value = 433


class KieImageFetchError(KieAPIError):
    """451: KIE could not fetch the image or video URL given. Check that it is public."""

    code_value = 451


class KieMaintenanceError(KieBusyError):
    """455: KIE is under maintenance. Nothing was created; try again later."""

    code_value = 455


class KieServerError(KieAPIError):
    """500 (or any 5xx HTTP status): KIE failed. Safe to retry for reads, never blindly for submits."""

    code_value = 500
    retryable = True


class KieGenerationFailedError(KieAPIError):
    """501: the generation itself failed."""

    code_value = 501


class KieFeatureDisabledError(KieAPIError):
    """505: the feature is disabled for this account."""

    code_value = 505


class KieUnknownCodeError(KieAPIError):
    """A code this client does not know. Not retried: we cannot tell whether it would help."""


_ERRORS_BY_CODE: dict[int, type[KieAPIError]] = {
    cls.code_value: cls
    for cls in (
        KieBadRequestError,
        KieAuthError,
        KieInsufficientCreditsError,
        KieNotFoundError,
        KieUpstreamTimeoutError,
        KieUnprocessableError,
        KieRateLimitError,
        KieSubKeyLimitError,
        KieImageFetchError,
        KieMaintenanceError,
        KieServerError,
        KieGenerationFailedError,
        KieFeatureDisabledError,
    )
    if cls.code_value is not None
}


def api_error_for_code(
    code: int,
    message: str,
    *,
    http_status: int,
    endpoint: str,
    retry_after: float | None = None,
    data: Any = None,
    service: str = "KIE",
) -> KieAPIError:
    """Build the error instance that stands for KIE ``code``; ``data`` is the envelope's ``data``.

    ``service`` names who answered in the message (``Runway API`` passes its HTTP status as ``code``).
    """
    cls: type[KieAPIError]
    if code == 422 and "recordinfo is null" in message.lower():
        cls = KieTaskNotFoundError
    elif code in _ERRORS_BY_CODE:
        cls = _ERRORS_BY_CODE[code]
    elif 500 <= code < 600:
        # 502/503/504 from a proxy in front of KIE: the same meaning as 500 for retry decisions.
        cls = KieServerError
    else:
        cls = KieUnknownCodeError
    return cls(
        message,
        code=code,
        http_status=http_status,
        endpoint=endpoint,
        retry_after=retry_after,
        data=data,
        service=service,
    )


class KieRequestError(KieError):
    """No usable answer came: the request did not complete, or what came back could not be read.

    The counterpart of :class:`KieAPIError` (KIE answered, and said no), as httpx's ``RequestError`` is of
    ``HTTPStatusError``.
    """


class KieResponseError(KieRequestError):
    """KIE's answer could not be understood: not JSON, or not the ``{code, msg, data}`` envelope.

    Carries the HTTP status and a short, redacted excerpt of the body. Retryable after a 5xx (typically an
    HTML error page from a proxy) and when the body was not JSON at all (typically cut short in transit):
    the same read may well succeed. A well-formed answer that lacks a field is not retried. (A *submit*
    with any such answer is never resent: see ``retry.py``.)
    """

    def __init__(
        self,
        problem: str,
        *,
        http_status: int,
        endpoint: str,
        body_excerpt: str,
        not_json: bool = False,
        service: str = "KIE",
    ) -> None:
        self.service = service
        self.problem = problem
        self.not_json = not_json
        self.http_status = http_status
        self.endpoint = endpoint
        self.body_excerpt = body_excerpt
        self.retryable = http_status >= 500 or http_status == 429 or not_json
        super().__init__(f"{service} {endpoint} sent {problem} (HTTP {http_status}): {body_excerpt!r}")


class KieTransportError(KieRequestError):
    """The request did not complete: connection refused, timeout, dropped connection.

    ``request_sent`` is False only when we know the request never left (connect failure): only then is
    it safe to resend a paid submit.
    """

    retryable = True

    def __init__(self, message: str, *, endpoint: str, request_sent: bool, service: str = "KIE") -> None:
        self.service = service
        self.endpoint = endpoint
        self.request_sent = request_sent
        super().__init__(message)


class KieSubmitOutcomeUnknownError(KieError):
    """A paid submit failed in a way that leaves open whether KIE created the task.

    Raised after a 5xx answer or a timeout once the request had been sent. Resending could pay for a
    second clip, so the client never does it; check KIE's dashboard or the callback, or accept the risk
    and submit again.
    """

    def __init__(self, endpoint: str, cause: KieError) -> None:
        self.endpoint = endpoint
        self.cause = cause
        # The service is the one whose answer was unclear (``retry.py`` builds this error from the cause).
        self.service = cause.service
        super().__init__(
            f"Submit to {self.service} {endpoint} ended without a clear answer ({cause}); a task may or may "
            "not have been created, so it was not resent automatically"
        )


class KieSignatureError(KieError):
    """A webhook callback's signature is missing, wrong or too old."""


class KieTaskError(KieError):
    """The task itself gave no clip: it failed at KIE, or did not finish in the time allowed."""

    def __init__(self, task_id: str, message: str) -> None:
        self.task_id = task_id
        super().__init__(message)


class KieTaskFailedError(KieTaskError):
    """A KIE task ended in its failed state. Carries KIE's failure code and message."""

    def __init__(
        self, task_id: str, fail_code: str | None, fail_msg: str | None, *, service: str = "KIE"
    ) -> None:
        self.service = service
        self.fail_code = fail_code
        self.fail_msg = fail_msg
        super().__init__(
            task_id,
            f"{service} task {task_id} failed (failCode={fail_code}): {fail_msg or 'no reason given'}",
        )


class KieTaskCancelledError(KieTaskFailedError):
    """The task was cancelled (or deleted) before it produced anything, so it never will.

    Runway's own API reports a task cancelled through ``DELETE /v1/tasks/{id}`` (by this provider, the
    developer portal or any other holder of the key) as ``CANCELLED``. A subclass of
    :class:`KieTaskFailedError`, so code that handles failures handles this too; catch it first to tell a
    deliberate stop from a failed generation.
    """


class KieWaitTimeoutError(KieTaskError):
    """Waiting for a task took longer than the caller allowed. The task may still finish at KIE."""

    def __init__(self, task_id: str, waited: float, last_state: str, *, service: str = "KIE") -> None:
        self.service = service
        self.waited = waited
        self.last_state = last_state
        super().__init__(task_id, f"{service} task {task_id} still {last_state} after waiting {waited:.0f} s")


class KieStorageError(KieError):
    """A finished clip's media could not be stored; nothing was written to the destination.

    Retryable: the next attempt (an Airflow retry of the task) fetches fresh links and stores again.
    """

    retryable = True
