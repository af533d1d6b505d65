"""Envelope decoding: every KIE code in both forms, malformed bodies, and no API key in any message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_kie.client import (
    KieAPIError,
    KieAuthError,
    KieBadRequestError,
    KieError,
    KieFeatureDisabledError,
    KieGenerationFailedError,
    KieImageFetchError,
    KieInsufficientCreditsError,
    KieMaintenanceError,
    KieNotFoundError,
    KieRateLimitError,
    KieResponseError,
    KieServerError,
    KieSubKeyLimitError,
    KieTaskNotFoundError,
    KieUnknownCodeError,
    KieUnprocessableError,
    KieUpstreamTimeoutError,
    RetryPolicy,
    api_error_for_code,
)
from airflow_provider_kie.client.envelope import decode_envelope

NO_RETRY = RetryPolicy.none()

# (code, msg, class, retryable)
CODES: list[tuple[int, str, type[KieAPIError], bool]] = [
    (400, "bad request", KieBadRequestError, False),
    (401, "You do not have access permissions", KieAuthError, False),
    (402, "Insufficient credits", KieInsufficientCreditsError, False),
    (404, "Not found", KieNotFoundError, False),
    (408, "Upstream timeout", KieUpstreamTimeoutError, True),
    (422, "prompt is required", KieUnprocessableError, False),
    (422, "recordInfo is null", KieTaskNotFoundError, False),
    (429, "Rate limited", KieRateLimitError, True),
    (433, "Sub-key usage limit exceeded", KieSubKeyLimitError, False),
    (451, "Failed to fetch the image", KieImageFetchError, False),
    (455, "Service under maintenance", KieMaintenanceError, True),
    (500, "Server error", KieServerError, True),
    (501, "Generation failed", KieGenerationFailedError, False),
    (505, "Feature disabled", KieFeatureDisabledError, False),
    (418, "I'm a teapot", KieUnknownCodeError, False),
    (502, "Bad gateway", KieServerError, True),
    (503, "Service unavailable", KieServerError, True),
]
CODE_IDS = [f"{code}-{cls.__name__}" for code, _, cls, _ in CODES]


def envelope(code: int, msg: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def credits_error(make_client: Any, *steps: Any) -> tuple[KieError, Any]:
    client, transport = make_client(*steps, retry=NO_RETRY)
    with pytest.raises(KieError) as info:
        client.get_credits()
    return info.value, transport


@pytest.mark.parametrize(("code", "msg", "cls", "retryable"), CODES, ids=CODE_IDS)
def test_code_in_body_under_http_200(
    make_client: Any, code: int, msg: str, cls: type[KieAPIError], retryable: bool
) -> None:
    error, transport = credits_error(make_client, (200, envelope(code, msg)))
    assert type(error) is cls
    assert isinstance(error, KieAPIError)
    assert error.code == code
    assert error.http_status == 200
    assert error.retryable is retryable
    assert error.endpoint == "/api/v1/chat/credit"
    assert error.kie_message == msg
    assert str(error) == f"KIE /api/v1/chat/credit answered code {code} (HTTP 200): {msg}"
    assert transport.count == 1


@pytest.mark.parametrize(("code", "msg", "cls", "retryable"), CODES, ids=CODE_IDS)
def test_code_as_http_status_with_envelope(
    make_client: Any, code: int, msg: str, cls: type[KieAPIError], retryable: bool
) -> None:
    error, _ = credits_error(make_client, (code, envelope(code, msg)))
    assert type(error) is cls
    assert error.code == code
    assert error.http_status == code
    assert error.retryable is retryable


@pytest.mark.parametrize(("code", "msg", "cls", "retryable"), CODES, ids=CODE_IDS)
def test_code_as_http_status_with_body_code_200(
    make_client: Any, code: int, msg: str, cls: type[KieAPIError], retryable: bool
) -> None:
    """An HTTP error status is an error even when the body claims 200."""
    error, _ = credits_error(make_client, (code, envelope(200, msg, 5)))
    assert type(error) is cls
    assert error.code == code
    assert error.http_status == code


@pytest.mark.parametrize("status", [500, 501, 502, 503, 505])
def test_proxy_html_error_page_maps_to_server_error(make_client: Any, status: int) -> None:
    # No KIE envelope, so no KIE code: 501 is HTTP's "Not Implemented" here, not KIE's "generation failed".
    page = f"<html><head><title>{status} Bad Gateway</title></head>\n<body>nginx</body></html>"
    error, _ = credits_error(make_client, (status, page, {"content-type": "text/html"}))
    assert type(error) is KieServerError
    assert error.code == status
    assert error.http_status == status
    assert error.retryable is True
    assert f"<title>{status} Bad Gateway</title></head> <body>nginx</body></html>" in str(error)


@pytest.mark.parametrize(
    ("status", "body_code", "cls"),
    [
        (429, 500, KieServerError),
        (500, 429, KieRateLimitError),
        (401, 402, KieInsufficientCreditsError),
        (503, 455, KieMaintenanceError),
        (400, 422, KieUnprocessableError),
    ],
)
def test_body_code_wins_over_http_status(make_client: Any, status: int, body_code: int, cls: type) -> None:
    error, _ = credits_error(make_client, (status, envelope(body_code, "from the body")))
    assert type(error) is cls
    assert error.code == body_code
    assert error.http_status == status


def test_string_body_code_is_understood(make_client: Any) -> None:
    error, _ = credits_error(make_client, (200, {"code": "402", "msg": "Insufficient credits"}))
    assert type(error) is KieInsufficientCreditsError
    client, _ = make_client({"code": "200", "msg": "success", "data": 7})
    assert client.get_credits() == 7


def test_record_info_is_null_match_is_case_insensitive() -> None:
    error = api_error_for_code(422, "RecordInfo Is Null", http_status=200, endpoint="/x")
    assert type(error) is KieTaskNotFoundError
    assert isinstance(error, KieUnprocessableError)
    assert error.code == 422


def test_retry_after_header_is_kept_on_the_error(make_client: Any) -> None:
    error, _ = credits_error(make_client, (429, envelope(429, "slow down"), {"Retry-After": "7"}))
    assert isinstance(error, KieRateLimitError)
    assert error.retry_after == 7.0


# -- malformed bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("<html><body>Oops</body></html>", "a body that is not JSON"),
        ('{"code": 200, "msg": "succ', "a body that is not JSON"),
        (b"\xff\xfe\x00garbage", "a body that is not JSON"),
        ("[1, 2, 3]", "JSON without the code/msg/data envelope"),
        ('{"msg": "ok", "data": 5}', "JSON without the code/msg/data envelope"),
        ('{"code": "two hundred", "data": 5}', "JSON without the code/msg/data envelope"),
        ('"just a string"', "JSON without the code/msg/data envelope"),
        ("", "JSON without the code/msg/data envelope"),
    ],
)
def test_unreadable_200_body_is_a_response_error(make_client: Any, body: Any, problem: str) -> None:
    error, transport = credits_error(make_client, (200, body))
    assert type(error) is KieResponseError
    assert error.http_status == 200
    assert error.problem == problem
    assert problem in str(error)
    assert "HTTP 200" in str(error)
    # Not JSON at all (an HTML page, a body cut short) may be transient; well-formed JSON without the
    # envelope will not change on a resend.
    assert error.retryable is (problem == "a body that is not JSON")
    assert transport.count == 1  # NO_RETRY: one request whatever the verdict


def test_response_error_excerpt_is_short_and_one_line(make_client: Any) -> None:
    body = "<html>\n<head>\r\n\t<title>Error</title>\n</head>\n" + "<p>line</p>\n" * 200 + "</html>"
    error, _ = credits_error(make_client, (200, body))
    assert isinstance(error, KieResponseError)
    assert error.body_excerpt.startswith("<html> <head> <title>Error</title> </head> <p>line</p>")
    assert len(error.body_excerpt) == 200
    assert "\n" not in str(error)
    assert "\r" not in str(error)
    assert "\t" not in str(error)


def test_envelope_without_code_under_http_error_uses_status(make_client: Any) -> None:
    error, _ = credits_error(make_client, (503, {"error": "upstream down"}))
    assert type(error) is KieServerError
    assert error.http_status == 503
    assert "upstream down" in str(error)


def test_http_error_with_empty_body_uses_reason_phrase(make_client: Any) -> None:
    error, _ = credits_error(make_client, (502, b""))
    assert type(error) is KieServerError
    assert str(error) == "KIE /api/v1/chat/credit answered code 502 (HTTP 502): Bad Gateway"


def test_http_error_excerpt_is_short_and_one_line(make_client: Any) -> None:
    body = "<html>\n" + "x" * 5000 + "\n</html>"
    error, _ = credits_error(make_client, (500, body))
    assert isinstance(error, KieServerError)
    assert len(error.kie_message) == 200
    assert error.kie_message == "<html> " + "x" * 193
    assert "\n" not in str(error)


# -- secrets ---------------------------------------------------------------------------------------------


def assert_no_key(error: BaseException, api_key: str) -> None:
    for text in (str(error), repr(error), str(error.args), str(getattr(error, "__dict__", ""))):
        assert api_key not in text
        assert api_key[:10] not in text


@pytest.mark.parametrize("status", [200, 500, 403])
def test_non_json_body_echoing_the_key_is_redacted(make_client: Any, api_key: str, status: int) -> None:
    body = f"<html><pre>Authorization: Bearer {api_key}\nbad request</pre></html>"
    error, _ = credits_error(make_client, (status, body))
    assert_no_key(error, api_key)
    assert "Authorization: Bearer *** bad request" in str(error)
    if isinstance(error, KieResponseError):
        assert error.http_status == status
        assert "***" in error.body_excerpt
    else:
        assert isinstance(error, KieAPIError)
        assert error.http_status == status


def test_kie_msg_echoing_the_key_is_redacted(make_client: Any, api_key: str) -> None:
    error, _ = credits_error(make_client, (200, envelope(401, f"Invalid API key: {api_key}")))
    assert isinstance(error, KieAuthError)
    assert_no_key(error, api_key)
    assert error.kie_message == "Invalid API key: ***"


def test_key_echoed_at_the_excerpt_boundary_is_not_leaked_in_part(make_client: Any, api_key: str) -> None:
    body = "<html>" + "y" * 190 + api_key + "</html>"
    error, _ = credits_error(make_client, (200, body))
    assert isinstance(error, KieResponseError)
    assert api_key[:8] not in str(error)
    assert len(error.body_excerpt) <= 200


def test_unreadable_data_echoing_the_key_is_redacted(make_client: Any, api_key: str) -> None:
    """A valid envelope whose ``data`` the parser rejects: the excerpt of ``data`` is redacted too."""
    client, _ = make_client({"code": 200, "msg": "ok", "data": {"echo": api_key}}, retry=NO_RETRY)
    with pytest.raises(KieResponseError) as info:
        client.get_task("task-1")
    assert_no_key(info.value, api_key)
    assert "{'echo': '***'}" in str(info.value)
    with pytest.raises(KieResponseError) as info:
        client.get_download_url("https://file.kie.example/x.mp4")
    assert_no_key(info.value, api_key)


def test_unreadable_data_excerpt_is_short(make_client: Any, api_key: str) -> None:
    client, _ = make_client({"code": 200, "msg": "ok", "data": {"blob": "z" * 190 + api_key + "z" * 900}})
    with pytest.raises(KieResponseError) as info:
        client.get_task("task-1")
    assert len(info.value.body_excerpt) <= 200
    assert api_key[:8] not in str(info.value)


def test_decode_envelope_directly_needs_no_client() -> None:
    request = httpx.Request("GET", "https://api.kie.ai/api/v1/chat/credit")
    response = httpx.Response(200, json=envelope(200, "ok", {"x": 1}), request=request)
    assert decode_envelope(response, "/api/v1/chat/credit", lambda s: s) == {"x": 1}
    failing = httpx.Response(200, json={"code": 200, "success": False, "msg": "no"}, request=request)
    with pytest.raises(KieBadRequestError, match="no"):
        decode_envelope(failing, "/api/file-url-upload", lambda s: s)
