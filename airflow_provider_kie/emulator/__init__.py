"""KIE emulator: a faithful offline stand-in for KIE's Runway, Aleph, Market (jobs), Veo 3.1, common and
file-upload APIs, and for Runway's own developer API.

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
(JSON list of fault rules), ``--media-renderer ffmpeg|sample``, ``--market-outputs MODEL=N`` (repeatable),
``--log-level``, ``--access-log``.

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
``callback_log()``, ``forge_callback(task_id, signature=...)``, ``replay_callback(task_id)`` (see Callback
faults), ``set_credits(n)``, ``advance_time(kie_seconds)``, ``set_market_outputs(model, n)`` and
``media_bytes(url)`` (the bytes served at a media URL, to compare with a stored file;
``render.embedded_task_id`` reads the task id back from a clip). ``create_app(config)`` returns the bare ASGI
app for any other server.

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
  ``uploadCn`` a boolean, ``referenceImage`` a URL. Jobs (``/api/v1/jobs/createTask``) - ``model`` and an
  ``input`` object required; for the models KIE documents (``market_catalogue``: Kling 2.6/2.5 turbo/2.1,
  Sora 2 (pro), Wan 2.6/2.5/2.2 turbo, Hailuo 02/2.3, Seedance v1/1.5 pro, Grok Imagine, Topaz video upscale;
  ``GET /_emulator/catalogue``) the ``input`` fields are checked against the model's page (required fields,
  types, enums with their JSON type - ``"duration": "5"`` is not ``5`` -, lengths, ranges, cross-field rules)
  with messages starting ``input.<field>``; any other model name is accepted (KIE's long tail). Veo generate
  - ``prompt`` required; ``model`` ``veo3|veo3_fast|veo3_lite``; ``generationType`` (inferred from the images
  when absent) with 0 / 1-2 / 1-3 ``imageUrls`` for text / frames / reference; reference-to-video only on
  Fast/Lite, 16:9 or 9:16, 8 s; ``aspectRatio`` ``16:9|9:16|Auto``; ``resolution`` ``720p|1080p|4k``;
  ``duration`` 4, 6 or 8; ``seeds`` 10000-99999. Veo extend - ``taskId`` and ``prompt`` required, ``model``
  ``fast|quality|lite``; the parent must be a succeeded, unexpired Veo task not generated or upgraded at
  1080P.
  Malformed JSON is code 400. Unknown fields are ignored. Input URLs are never fetched.
* **Lifecycle**: ``wait`` -> ``queueing`` -> ``generating`` -> ``success | fail``, computed from the submit
  time and the timeline (default 5 / 10 / 60 KIE seconds; Aleph 5 / 10 / 120) times ``time_scale``. Record
  shapes follow KIE: Runway ``record-detail`` (``videoInfo`` null until success; ``failCode``/``failMsg``
  ``""`` unless failed; ``expireFlag``; ``generateTime`` ``YYYY-MM-DD HH:MM:SS`` in UTC) and Aleph
  ``record-info`` (``successFlag`` 1 on success, else 0; failed = 0 with ``errorMessage``; ``paramJson`` a
  JSON string; ISO times). Jobs ``recordInfo`` spells the states ``waiting|queuing|generating|success|fail``,
  has ``param`` and ``resultJson`` (``{"resultUrls": [...]}``: MP4s, or PNGs for image models) as JSON
  strings, ``costTime`` (ms, once succeeded) and epoch-ms times; Market task ids look like KIE's
  (``task_kling-2.6_1765182425861``). Veo ``record-info`` (Veo timeline 5 / 10 / 105) has ``successFlag`` 0
  running, 1 success, 2 refused (moderation, concurrency), 3 generation failed; ``response`` {``resultUrls``,
  ``originUrls``, ``resolution``, ``fullResultUrls``} on success; ``paramJson``; ``errorCode``/
  ``errorMessage``; times ``YYYY-MM-DD HH:MM:SS``; ids ``veo_task_<hex>``. Unknown ids - or an id of another
  family (Runway, Aleph, jobs, Veo) - answer code 422 ``recordInfo is null``.
* **Veo upgrades**: ``GET /api/v1/veo/get-1080p-video?taskId=&index=`` answers body code 400 "1080P is
  processing..." until the 1080P file is ready (``veo_1080p_s``, 90 KIE s after the first call, which is
  charged), then ``data.resultUrl``. ``POST /api/v1/veo/get-4k-video {taskId, index, callBackUrl}`` answers
  ``{taskId, resultUrls: null, imageUrls: null}`` and charges; a repeat answers code 422 "4k is processing..."
  (not a failure) until ready (``veo_4k_s``, 420 KIE s), then 422 "The video has been generated successfully"
  with ``resultUrls``/``imageUrls``; the callback is ``{"code": 200, "msg", "data": {"taskId", "info":
  {"resultUrls", "imageUrls"}}}`` (code 500 "The 4K version of this video is unavailable..." and a refund when
  a ``task_fail`` fault hits the 4K endpoint). Both refuse unknown (422 "record is null"), unfinished (422
  "record status is not success") and expired tasks and a missing ``index``.
* **Credits**: each accepted submission is charged from the cost table; ``chat/credit`` returns the integer
  balance; a submission the balance cannot cover is code 402 and charges nothing. Failed tasks (concurrency
  cap, moderation, injected failures) are refunded when their failure shows. Default costs (override with
  ``costs``): generate 5 s 720p = 12, 10 s 720p = 30, 5 s 1080p = 30; extend 720p = 12, 1080p = 30; Aleph =
  60; catalogue Market models at KIE's price for the request (kie.ai/pricing, 1 credit = $0.005: Kling 2.6 5 s
  without sound = 55, Sora 2 10 s = 30, Wan 2.6 5 s 1080p = 105...; ``(SubmissionKind.JOBS, 0, model)`` in
  ``costs`` wins), other models 20 (``(SubmissionKind.JOBS, 0, "*")``); Veo Quality/Fast/Lite 250/60/30 at
  720p (65/35 and 255 at 1080p, 370/180/150 at 4K), extensions 250/60/30, the 1080P upgrade 5, 4K 120.
* **Rate limit**: more than ``rate_limit`` (20) submissions (generate, extend, Aleph, jobs, Veo generate,
  extend and 4K; valid or not)
  within a sliding ``rate_window_s`` (10 real seconds) get HTTP 429, body code 429 and ``Retry-After``;
  nothing is queued.
* **Concurrency cap**: a submission made while ``concurrency_cap`` (10) tasks are unfinished is accepted (a
  task id comes back) but the task fails at once with failCode 400 and "Reached the limit for concurrent
  generations"; its credits are refunded.
* **Media**: ``{base_url}/media/{taskId}.mp4`` and ``.png`` (and ``/media/{taskId}/{n}.mp4`` for further
  results, Veo's ``origin``, ``full``, ``1080p``, ``4k``) serve each task's own H.264 MP4 and PNG cover,
  rendered with ffmpeg on first download (:mod:`.render`): frame size from the requested ratio and
  quality/resolution (720p 16:9 = 1280x720, 1080p = 1920x1080, 9:16 = 720x1280, Veo 4K = 3840x2160), the
  requested duration, a colour and caption of the task's own and its id in the MP4 ``comment`` tag; a few tens
  of KB each. Without ffmpeg (or ``media_renderer="sample"``) every clip is the shipped 3 s 320x180 sample.
  Content-Type, Content-Length, ETag, HEAD and single Range requests (206/416) are supported. They answer 404
  before success and after ``media_retention_s`` (14 days; then ``expireFlag`` turns 1) or, for Market
  results, ``market_media_retention_s`` (24 h).
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
  <the recordInfo data>}``; Veo ``{"code": 200, "msg", "data": {"taskId", "promptJson", "info":
  {"resultUrls", "originUrls", "resolution"}, "fallbackFlag": false}}`` (failure: the code, the reason,
  ``data`` ``{"taskId", "fallbackFlag"}``) and the 4K callback above. With ``webhook_hmac_key`` set,
  ``X-Webhook-Timestamp`` (unix seconds, real time) and ``X-Webhook-Signature`` = base64(HMAC-SHA256(key,
  f"{task_id}.{timestamp}")) are added. Failed attempts are retried after 1, 5 and 15 KIE minutes (scaled).
  A failing, slow or absent receiver never affects the API. Only ``callback_allowed_hosts`` (default
  loopback) are contacted; other hosts are logged as failed attempts with no traffic, so URLs copied from
  KIE's docs stay on the machine.

## Configuration (``EmulatorConfig``)

Durations named ``*_s`` are KIE seconds, multiplied by ``time_scale``, except ``rate_window_s``,
``callback_timeout_s`` and fault delays, which are real seconds (they exercise the client's own clocks).

| field | default | meaning |
| --- | --- | --- |
| ``api_keys`` | ``None`` | accepted keys; ``None`` = any non-empty key |
| ``initial_credits`` | 10000 | balance at start and after reset |
| ``costs`` | see above | ``{(SubmissionKind, duration, quality or jobs model): credits}``; else defaults |
| ``timeline`` | 5/10/60 | ``PhaseTimeline(wait_s, queueing_s, generating_s)`` of Runway and jobs tasks |
| ``veo_timeline`` | 5/10/105 | the same for Veo generate/extend tasks |
| ``veo_1080p_s`` / ``veo_4k_s`` | 90 / 420 | KIE seconds until a Veo 1080P / 4K file is ready |
| ``aleph_timeline`` | 5/10/120 | the same for Aleph tasks |
| ``time_scale`` | 1.0 | 0.005 turns a 75 s generation into ~0.4 s |
| ``rate_limit`` / ``rate_window_s`` | 20 / 10.0 | submissions per sliding real-time window |
| ``concurrency_cap`` | 10 | unfinished tasks per account |
| ``media_retention_s`` | 14 days | then ``expireFlag`` 1 and media 404 |
| ``market_media_retention_s`` | 24 h | the same for Market results |
| ``market_outputs`` | ``{}`` | results per Market task by model name (``"*"`` = all), e.g. ``{"*": 3}`` |
| ``market_results_per_task`` | ``None`` | results per task for every Market model (``market_outputs`` wins) |
| ``media_renderer`` | ``"ffmpeg"`` | ``"sample"`` serves the shipped clip and cover for every task |
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
| ``runway_api`` | ``RunwayApiConfig()`` | the emulated Runway developer API (below) |

## Runway's own developer API (``/runway-api``)

The same server plays Runway's API (https://api.dev.runwayml.com) under ``emu.runway_base_url`` (``base_url +
"/runway-api"``), with its own organisation, keys and credits (``EmulatorConfig.runway_api``, a
``RunwayApiConfig``), and its output CDN under ``/runway-cdn``. It shares the clock (``time_scale``,
``advance_time``), the fault plan (patterns such as ``/runway-api/v1/image_to_video``; response faults answer
in Runway's ``{"error"}`` shape) and the renderer. Routes, rules and lifecycle: :mod:`.runway_api_routes`,
:mod:`.runway_api_rules`, :mod:`.runway_api_state`. In short: ``Authorization: Bearer key_<128 hex>``
(``emu.runway_api_key``; 401 otherwise) and ``X-Runway-Version: 2024-11-06`` (400 naming the header otherwise)
on every call; creates answer ``{"id"}``; tasks go ``PENDING`` -> ``RUNNING`` -> ``SUCCEEDED``/``FAILED``, or
``THROTTLED`` first when the model's ``max_concurrent_generations`` slots are taken; ``DELETE`` cancels
(``CANCELLED``) or deletes (404 after); output URLs expire after ``output_ttl_s`` (24 h, scaled); clips are
rendered at the ratio's pixel size (``1280:720`` -> 1280x720) and duration. ``emu.runway_api_stats()`` counts
creates (``paid_creates``, ``refunded_creates``, ``throttled_creates``) and DELETEs (``cancels``,
``deletions``).

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
| ``callback_drop`` | the callback is never POSTed nor retried (lost after KIE's last retry) |
| ``callback_duplicate`` | the callback is POSTed ``copies`` (2) times at once, each freshly signed |
| ``callback_delay`` | the callback is POSTed ``after_s`` (60) KIE seconds after the task ended |
| ``callback_replay`` | ``after_s`` (60) KIE seconds after its first POST, the same body and headers again |
| ``callback_signature`` | bad headers (``signature``: ``wrong_key``, ``other_task``, ``stale``...) |

``every=N`` (any kind) hits only calls ``start_call``, ``start_call + N``...: ``every=3`` is exactly a third,
without randomness.

Change faults at any time: ``emu.set_faults(...)`` / ``add_fault`` / ``clear_faults`` from Python, or ``POST
/_emulator/faults`` with ``{"rules": [{"kind": "delay", "endpoint": "/api/v1/chat/credit", "delay_s": 30}],
"seed": 7}`` (``"append": true`` to add), ``GET`` / ``DELETE /_emulator/faults``.

## Callback faults

The ``callback_*`` kinds spoil the callbacks sent when a task (or a Veo 4K upgrade) with a ``callBackUrl``
ends. Their ``endpoint`` matches the *callback URL's path* (``"*"``, ``"/kie/callback*"``), and their calls
are callbacks, counted once when each falls due (retries and extra POSTs are not calls), so ``FaultRule(
"callback_drop", every=3)`` drops exactly the 1st, 4th, 7th... callback and ``probability=1/3`` with a seed
drops a reproducible third. Several callback rules combine on one callback (delayed, duplicated and wrongly
signed at once; one rule per kind; a drop wins). ``after_s`` is KIE time (scaled, moved by ``advance_time``).
The body is always KIE's body for the family; only headers and timing are spoiled. Retries keep the signature
fault; duplicates, replays and forged POSTs are never retried. Signature modes: ``wrong_key`` (fresh
timestamp, another key), ``other_task`` (the genuine timestamp/signature pair of the last other task's
callback, else one made for an invented task id), ``stale`` / ``future`` (right key, timestamp one hour off),
``unsigned`` (no signature headers). Without ``webhook_hmac_key`` the spoiled signatures use a stand-in key.

On demand: ``emu.forge_callback(task_id, signature="stale")`` POSTs the task's callback body now, whatever its
state (``signature=None`` signs it correctly: a genuine-looking callback ahead of KIE's);
``emu.replay_callback(task_id)`` re-sends the last callback sent for the task, same body and headers. Both are
sent once, never retried.

Every outcome is logged and counted: ``CallbackAttempt.faults`` labels what shaped each POST
(``callback_delay``, ``callback_duplicate``, ``callback_replay``, ``callback_forged``,
``callback_signature:<mode>``); dropped callbacks are logged with ``sent=False`` and ``faults=
("callback_drop",)``; ``EmulatorStats.callbacks_dropped`` counts them (they are not attempts) and
``callbacks_by_fault`` counts POSTs (and drops) per label. ``faults_injected`` counts decisions per kind.

## Admin endpoints (``/_emulator``, no API key; never faulted or counted)

| endpoint | purpose |
| --- | --- |
| ``GET /_emulator/health`` | liveness |
| ``GET /_emulator/stats`` | counters: submissions, calls per endpoint, credits, faults, callbacks (below) |
| ``GET /_emulator/tasks[/{id}]`` | tasks with state, cost, refund flag, parent, prompt |
| ``GET /_emulator/callbacks`` | every callback attempt with payload, headers, outcome, ``faults``, ``sent`` |
| ``POST /_emulator/callbacks/forge`` | ``{"task_id", "signature": mode or null, "url"?}``: forge one now |
| ``POST /_emulator/callbacks/replay`` | ``{"task_id"}``: the last callback of the task again, same headers |
| ``GET/POST/DELETE /_emulator/faults`` | read / replace (or append) / clear fault rules |
| ``POST /_emulator/reset`` | forget tasks, uploads, links, counters; credits and faults back to the config |
| ``POST /_emulator/credits`` | ``{"balance": n}`` |
| ``POST /_emulator/advance`` | ``{"kie_seconds": n}``: jump ahead in KIE time (expiry without waiting) |
| ``GET /_emulator/config`` | the configuration (keys redacted) |
| ``GET /_emulator/catalogue`` | the Market models checked like KIE (page URL, fields, results per task) |
| ``POST /_emulator/outputs`` | ``{"model": "<name>" or "*", "count": n or null}``: results per Market task |
| ``GET /_emulator/docs`` | OpenAPI UI |

``/_emulator/stats`` (and ``emu.stats()``, an ``EmulatorStats``) reports ``submissions_received`` /
``_accepted`` / ``_rejected`` and ``rejections_by_code``, ``paid_submissions`` (accepted, charged, not
refunded) and ``refunded_submissions``, ``accepted_by_kind``, ``credits_balance`` / ``_charged`` /
``_refunded`` / ``_spent``, ``calls_by_endpoint``, ``faults_injected``, ``rate_limited``,
``callbacks_attempted`` / ``_delivered`` / ``_failed`` / ``_dropped``, ``callbacks_by_fault``,
``tasks_by_state``, ``uploads`` and ``download_links``. "Exactly one paid submission" is
``emu.stats().paid_submissions == 1``.

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
from airflow_provider_kie.emulator.faults import FaultKind, FaultRule, FaultTiming, SignatureFault
from airflow_provider_kie.emulator.models import CallbackAttempt, EmulatorStats, TaskPhase, TaskSnapshot
from airflow_provider_kie.emulator.runway_api_config import RunwayApiConfig
from airflow_provider_kie.emulator.runway_api_state import RunwayApiStats, RunwayApiTaskSnapshot
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
    "RunwayApiConfig",
    "RunwayApiStats",
    "RunwayApiTaskSnapshot",
    "SignatureFault",
    "SubmissionKind",
    "TaskPhase",
    "TaskSnapshot",
    "create_app",
    "running_emulator",
]
