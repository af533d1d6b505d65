"""KIE emulator: a faithful offline stand-in for KIE's Runway, Aleph, jobs, common and file-upload APIs.

# Developing DAGs offline

The emulator is a real HTTP server (FastAPI + uvicorn, both shipped with Airflow) that speaks KIE's API on
loopback: same paths, same envelopes, same validation, same quirks, same limits. Point the provider's
connection at it to build and test DAGs without spending credits or reaching the internet. It implements KIE's
rules on its own (it imports neither the provider's client nor Airflow), so a client bug is not hidden by a
shared mistake.

## Starting it

Command line (default port **8089**, default host 127.0.0.1)::

    python -m airflow_provider_kie.emulator --port 8089 --time-scale 0.05
    # KIE emulator listening on http://127.0.0.1:8089
    #   base_url:        http://127.0.0.1:8089
    #   upload_base_url: http://127.0.0.1:8089/upload-host

Flags: ``--host``, ``--port`` (0 = any free port), ``--time-scale``, ``--credits``, ``--api-key`` (repeatable;
default: any non-empty key), ``--seed``, ``--webhook-key``, ``--concurrency-cap``, ``--rate-limit``,
``--rate-window``, ``--public-base-url`` (URL written into media links, e.g. ``http://kie-emulator:8089`` in
docker compose), ``--callback-hosts`` (comma list, ``*`` = any; default loopback only), ``--faults FILE``
(JSON list of fault rules), ``--log-level``, ``--access-log``.

From Python (a background thread on a free port; returns once it answers)::

    from airflow_provider_kie.emulator import EmulatorConfig, FaultRule, running_emulator

    with running_emulator(EmulatorConfig(time_scale=0.01)) as emu:
        emu.base_url          # stands in for https://api.kie.ai
        emu.upload_base_url   # stands in for https://kieai.redpandaai.co (= base_url + "/upload-host")
        emu.api_key           # a key it accepts; emu.auth_headers = {"Authorization": "Bearer ..."}
        emu.set_faults(FaultRule("rate_limited", endpoint="/api/v1/runway/generate", end_call=1))
        ...
        assert emu.stats().paid_submissions == 1

``EmulatorServer(config).start()`` / ``.stop()`` does the same without a ``with`` block. The handle
(``RunningEmulator``) also has ``state``, ``config``, ``url(path)``, ``add_fault``, ``clear_faults``,
``reset()``, ``reconfigure(**changes)`` (new config + reset, no restart), ``stats()``, ``tasks()``,
``callback_log()``, ``set_credits(n)`` and ``advance_time(kie_seconds)``. ``create_app(config)`` returns the
bare ASGI app for any other server.

With pytest, enable the fixtures in your root ``conftest.py``::

    pytest_plugins = ["airflow_provider_kie.emulator.pytest_plugin"]

``kie_emulator`` (a fresh emulator per test, configured by the overridable ``kie_emulator_config`` fixture,
default ``fast_test_config()`` = time_scale 0.002), ``kie_emulator_session`` (one per session) and
``kie_emulator_clean`` (the session one, reset before the test).

## What it does like KIE

* **Envelope**: every API answer is ``{"code", "msg", "data"}``; refusals are mostly HTTP 200 with the real
  code in the body. Unknown paths answer 404 and wrong methods 405, in the same envelope.
* **Key**: ``Authorization: Bearer <key>`` on every API and upload endpoint; a missing or unknown key is HTTP
  200 with body code 401. ``api_keys=None`` (default) accepts any non-empty key, so quickstart requests with
  ``Bearer YOUR_API_KEY`` work. Media URLs need no key (they stand for KIE's file CDN).
* **Validation** (body code 422, message starting with the field name): Runway generate - ``prompt`` required,
  at most 1800 chars; ``duration`` 5 or 10 (a JSON number); ``quality`` ``720p``/``1080p``, 1080p only with 5
  s; ``aspectRatio`` one of ``16:9 4:3 1:1 3:4 9:16``, required without ``imageUrl`` and ignored with it; URLs
  http(s). Extend - ``taskId``, ``prompt``, ``quality`` required; the parent must be a succeeded, unexpired
  Runway task (else 422); the new task keeps ``parentTaskId`` and the parent's aspect ratio; chains work.
  Aleph - ``prompt`` and ``videoUrl`` required, ``aspectRatio`` adds ``21:9``, ``seed`` an integer,
  ``uploadCn`` a boolean, ``referenceImage`` a URL. Jobs (``/api/v1/jobs/createTask``, any model name) -
  ``model`` and an ``input`` object required. Malformed JSON is code 400. Unknown fields are ignored. Input
  URLs are never fetched.
* **Lifecycle**: ``wait`` -> ``queueing`` -> ``generating`` -> ``success | fail``, computed from the submit
  time and the timeline (default 5 / 10 / 60 KIE seconds; Aleph 5 / 10 / 120) times ``time_scale``. Record
  shapes follow KIE: Runway ``record-detail`` (``videoInfo`` null until success; ``failCode``/``failMsg``
  ``""`` unless failed; ``expireFlag``; ``generateTime`` ``YYYY-MM-DD HH:MM:SS`` in UTC) and Aleph
  ``record-info`` (``successFlag`` 1 on success, else 0; failed = 0 with ``errorMessage``; ``paramJson`` a
  JSON string; ISO times). Jobs ``recordInfo`` spells the states ``waiting|queuing|generating|success|fail``,
  has ``param`` and ``resultJson`` (``{"resultUrls": [...]}``: the MP4 for models whose name contains "video",
  the PNG otherwise) as JSON strings, and epoch-ms times. Unknown ids - or an id of another family (Runway,
  Aleph, jobs) - answer code 422 ``recordInfo is null``.
* **Credits**: each accepted submission is charged from the cost table; ``chat/credit`` returns the integer
  balance; a submission the balance cannot cover is code 402 and charges nothing. Failed tasks (concurrency
  cap, moderation, injected failures) are refunded when their failure shows. Default costs (illustrative, not
  KIE's price list; override with ``costs``): generate 5 s 720p = 12, 10 s 720p = 30, 5 s 1080p = 30; extend
  720p = 12, 1080p = 30; Aleph = 60; jobs = 20 for any model (key ``(SubmissionKind.JOBS, 0, model)``,
  fallback ``(SubmissionKind.JOBS, 0, "*")``).
* **Rate limit**: more than ``rate_limit`` (20) submissions (generate, extend, Aleph, jobs; valid or not)
  within a sliding ``rate_window_s`` (10 real seconds) get HTTP 429, body code 429 and ``Retry-After``;
  nothing is queued.
* **Concurrency cap**: a submission made while ``concurrency_cap`` (10) tasks are unfinished is accepted (a
  task id comes back) but the task fails at once with failCode 400 and "Reached the limit for concurrent
  generations"; its credits are refunded.
* **Media**: ``{base_url}/media/{taskId}.mp4`` and ``.png`` serve a real 3 s H.264 MP4 (320x180) and a PNG
  cover with Content-Type, Content-Length, ETag, HEAD and single Range requests (206/416). They answer 404
  before success and after ``media_retention_s`` (14 days), when ``expireFlag`` turns 1.
  ``{base_url}/media/synthetic/{n}.mp4`` streams ``n`` deterministic bytes (not a video) for download
  benchmarks, with the same HEAD/Range support, without holding them in memory.
* **Download links**: ``common/download-url`` returns a fresh ``{base_url}/media/dl/{token}/{file}`` link
  valid ``download_link_ttl_s`` (20 min), then HTTP 403; code 422 for URLs the emulator did not produce, or
  whose file is not (or no longer) available.
* **Uploads** (``upload_base_url``): ``/api/file-stream-upload`` (multipart ``file``, ``uploadPath``,
  ``fileName``), ``/api/file-base64-upload`` (``base64Data`` plain or data URL), ``/api/file-url-upload``
  (``fileUrl``) answer ``{"success", "code", "msg", "data": {"fileName", "filePath", "downloadUrl",
  "fileSize", "mimeType", "uploadedAt"}}``; files are served back at ``downloadUrl`` for
  ``upload_retention_s`` (24 h). Offline by design, ``file-url-upload`` only accepts URLs served by this
  emulator (code 400 otherwise). Upload-host refusals use code 400 (401 for the key).
* **Callbacks**: when a task with ``callBackUrl`` turns terminal, KIE's payload is POSTed: Runway ``{"code":
  200, "msg": "All generated successfully.", "data": {"task_id", "video_id", "video_url", "image_url"}}``
  (failure: code 400/500, the reason, empty URLs; extend failures carry only ``task_id``); Aleph ``{"code",
  "msg", "data": {"result_video_url", "result_image_url"} | null, "taskId"}``; jobs ``{"code", "msg", "data":
  <the recordInfo data>}``. With ``webhook_hmac_key`` set, ``X-Webhook-Timestamp`` (unix seconds, real time)
  and ``X-Webhook-Signature`` = base64(HMAC-SHA256(key, f"{task_id}.{timestamp}")) are added. Failed attempts
  are retried after 1, 5 and 15 KIE minutes (scaled). A failing, slow or absent receiver never affects the
  API. Only ``callback_allowed_hosts`` (default loopback) are contacted; other hosts are logged as failed
  attempts with no traffic, so URLs copied from KIE's docs stay on the machine.

## Configuration (``EmulatorConfig``)

Durations named ``*_s`` are KIE seconds, multiplied by ``time_scale``, except ``rate_window_s``,
``callback_timeout_s`` and fault delays, which are real seconds (they exercise the client's own clocks).

| field | default | meaning |
| --- | --- | --- |
| ``api_keys`` | ``None`` | accepted keys; ``None`` = any non-empty key |
| ``initial_credits`` | 10000 | balance at start and after reset |
| ``costs`` | see above | ``{(SubmissionKind, duration, quality or jobs model): credits}``; else defaults |
| ``timeline`` | 5/10/60 | ``PhaseTimeline(wait_s, queueing_s, generating_s)`` of Runway and jobs tasks |
| ``aleph_timeline`` | 5/10/120 | the same for Aleph tasks |
| ``time_scale`` | 1.0 | 0.005 turns a 75 s generation into ~0.4 s |
| ``rate_limit`` / ``rate_window_s`` | 20 / 10.0 | submissions per sliding real-time window |
| ``concurrency_cap`` | 10 | unfinished tasks per account |
| ``media_retention_s`` | 14 days | then ``expireFlag`` 1 and media 404 |
| ``download_link_ttl_s`` | 20 min | lifetime of ``download-url`` links |
| ``upload_retention_s`` | 24 h | lifetime of uploaded files |
| ``webhook_hmac_key`` | ``None`` | signs callbacks when set |
| ``callback_timeout_s`` | 5.0 | real seconds per callback POST |
| ``callback_retry_delays_s`` | (60, 300, 900) | KIE seconds before each retry |
| ``callback_allowed_hosts`` | loopback | hosts callbacks may reach; ``None`` = any |
| ``public_base_url`` | ``None`` | base of media/upload links; ``None`` = the URL the client used |
| ``max_upload_bytes`` | 100 MiB | largest upload |
| ``seed`` | 0 | seed of random fault decisions |
| ``faults`` | ``()`` | fault rules active at start and after reset |

## Faults

``FaultRule(kind, endpoint="*", method=None, probability=1.0, start_call=1, end_call=None, when="before",
...)``: ``endpoint`` is an ``fnmatch`` pattern on the path (``"/api/v1/runway/*"``, ``"/media/*"``,
``"/upload-host/*"``); the rule counts its matching calls and hits calls ``start_call..end_call`` with
``probability``. Random decisions depend only on ``(seed, rule position, call number)``, so a run is
reproducible. ``when="before"`` faults leave the request unprocessed (nothing charged); ``when="after"``
processes it first (a submission creates and charges a task) and then spoils the answer - how a client that
blindly retries ends up paying twice.

| kind | effect (extra fields) |
| --- | --- |
| ``rate_limited`` | HTTP 429, code 429, ``Retry-After`` (``retry_after_s``) |
| ``maintenance`` | HTTP 455, code 455 |
| ``server_error`` | HTTP ``status`` (500), same body code (``msg``) |
| ``body_error`` | HTTP 200 with body code ``code`` (500) and ``msg`` |
| ``delay`` | answer after ``delay_s`` real seconds; ``before``: dropped if the client gave up meanwhile |
| ``drop_connection`` | connection closed without any response (httpx raises ``RemoteProtocolError``) |
| ``malformed_json`` | HTTP 200, JSON cut in the middle |
| ``truncate`` | full ``Content-Length`` announced, ``fraction`` (0.5) of the body sent, connection closed |
| ``moderation`` | tasks whose prompt has one of ``words`` (any if empty) fail after queueing, failCode 400 |
| ``task_fail`` | accepted tasks fail at the end of generation (``fail_code`` 500, ``fail_msg``) |

Change faults at any time: ``emu.set_faults(...)`` / ``add_fault`` / ``clear_faults`` from Python, or ``POST
/_emulator/faults`` with ``{"rules": [{"kind": "delay", "endpoint": "/api/v1/chat/credit", "delay_s": 30}],
"seed": 7}`` (``"append": true`` to add), ``GET`` / ``DELETE /_emulator/faults``.

## Admin endpoints (``/_emulator``, no API key; never faulted or counted)

| endpoint | purpose |
| --- | --- |
| ``GET /_emulator/health`` | liveness |
| ``GET /_emulator/stats`` | counters: submissions, calls per endpoint, credits, faults, callbacks (below) |
| ``GET /_emulator/tasks[/{id}]`` | tasks with state, cost, refund flag, parent, prompt |
| ``GET /_emulator/callbacks`` | every callback attempt with payload, headers and outcome |
| ``GET/POST/DELETE /_emulator/faults`` | read / replace (or append) / clear fault rules |
| ``POST /_emulator/reset`` | forget tasks, uploads, links, counters; credits and faults back to the config |
| ``POST /_emulator/credits`` | ``{"balance": n}`` |
| ``POST /_emulator/advance`` | ``{"kie_seconds": n}``: jump ahead in KIE time (expiry without waiting) |
| ``GET /_emulator/config`` | the configuration (keys redacted) |
| ``GET /_emulator/docs`` | OpenAPI UI |

``/_emulator/stats`` (and ``emu.stats()``, an ``EmulatorStats``) reports ``submissions_received`` /
``_accepted`` / ``_rejected`` and ``rejections_by_code``, ``paid_submissions`` (accepted, charged, not
refunded) and ``refunded_submissions``, ``accepted_by_kind``, ``credits_balance`` / ``_charged`` /
``_refunded`` / ``_spent``, ``calls_by_endpoint``, ``faults_injected``, ``rate_limited``,
``callbacks_attempted`` / ``_delivered`` / ``_failed``, ``tasks_by_state``, ``uploads`` and
``download_links``. "Exactly one paid submission" is ``emu.stats().paid_submissions == 1``.

Anyone who can reach the port can drive the control plane: keep the emulator on loopback or a test network.
"""

from airflow_provider_kie.emulator.app import EmulatorApp, create_app
from airflow_provider_kie.emulator.config import (
    DEFAULT_COSTS,
    DEFAULT_PORT,
    EmulatorConfig,
    PhaseTimeline,
    SubmissionKind,
)
from airflow_provider_kie.emulator.faults import FaultKind, FaultRule, FaultTiming
from airflow_provider_kie.emulator.models import CallbackAttempt, EmulatorStats, TaskPhase, TaskSnapshot
from airflow_provider_kie.emulator.server import EmulatorServer, RunningEmulator, running_emulator
from airflow_provider_kie.emulator.state import EmulatorState

__all__ = [
    "DEFAULT_COSTS",
    "DEFAULT_PORT",
    "CallbackAttempt",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "EmulatorStats",
    "FaultKind",
    "FaultRule",
    "FaultTiming",
    "PhaseTimeline",
    "RunningEmulator",
    "SubmissionKind",
    "TaskPhase",
    "TaskSnapshot",
    "create_app",
    "running_emulator",
]
