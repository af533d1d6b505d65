"""The emulated KIE account: tasks, credits, limits, uploads, links, counters.

All KIE rules that are not about the shape of one request live here, behind one re-entrant lock: the HTTP
server (its own thread) and the test or DAG code (another thread) read and change the state concurrently.
"""

from __future__ import annotations

import heapq
import math
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_kie.emulator.config import EmulatorConfig, Family, SubmissionKind
from airflow_provider_kie.emulator.dimensions import clip_shape
from airflow_provider_kie.emulator.errors import (
    MSG_CONCURRENCY,
    MSG_GENERATION_FAILED,
    MSG_INSUFFICIENT_CREDITS,
    MSG_MODERATION,
    MSG_RATE_LIMITED,
    MSG_RECORD_NULL,
    MSG_UNAUTHORIZED,
    KieRefusal,
    validation_error,
)
from airflow_provider_kie.emulator.faults import FaultKind, FaultPlan, FaultRule, SignatureFault
from airflow_provider_kie.emulator.models import (
    CallbackAttempt,
    CallbackJob,
    DownloadLink,
    EmulatorStats,
    Task,
    TaskPhase,
    TaskSnapshot,
    TaskSpec,
    UploadedFile,
)
from airflow_provider_kie.emulator.payloads import callback_payload
from airflow_provider_kie.emulator.render import MediaExt, MediaRenderer, RenderJob
from airflow_provider_kie.emulator.runway_api_state import RunwayApiState
from airflow_provider_kie.emulator.state_veo import VeoUpgrades
from airflow_provider_kie.emulator.validation import (
    AlephGenerateRequest,
    JobsCreateTaskRequest,
    RunwayExtendRequest,
    RunwayGenerateRequest,
)
from airflow_provider_kie.emulator.validation_veo import VeoExtendRequest, VeoGenerateRequest

#: failCode of tasks KIE refuses to run (moderation, concurrency cap); KIE's failure callbacks use 400 for
#: these.
REFUSED_FAIL_CODE = 400
#: Seconds a Veo extension adds. KIE's extend page does not say; 8 s (a default Veo clip) is assumed.
VEO_EXTENSION_S = 8
#: Characters kept from a model name in a Market task id.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


class EmulatorState(VeoUpgrades):
    """The single emulated account.

    Args:
        config: The run's configuration.
        clock: Wall clock (epoch seconds) behind task times; injectable for unit tests.
        monotonic: Clock of the rate-limit window (real seconds, unaffected by :meth:`advance_time`).
    """

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._epoch = 0
        self.faults = FaultPlan(config.faults, seed=config.seed)
        #: Renders and caches each task's media (see :mod:`.render`); survives resets, closed at shutdown.
        self.media = MediaRenderer()
        self._last_stamp = 0  # of Market task ids
        self._init_account()
        #: Runway's own developer API (``/runway-api``): its organisation, on this state's clock and faults.
        self.runway_api = RunwayApiState(self)

    def _init_account(self) -> None:
        self._offset = 0.0
        self._seq = 0
        self._tasks: dict[str, Task] = {}
        self._pending: list[tuple[float, int, str]] = []  # heap of unsettled tasks by done_at
        self._active = 0
        self._balance = self.config.initial_credits
        self._charged = 0
        self._refunded = 0
        self._refunded_tasks = 0
        self._submit_times: deque[float] = deque()
        self._received = 0
        self._rejections: Counter[int] = Counter()
        self._accepted_by_kind: Counter[str] = Counter()
        self._calls: Counter[str] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._rate_limited = 0
        self._uploads: dict[str, UploadedFile] = {}
        self._upload_count = 0
        self._links: dict[str, DownloadLink] = {}
        self._link_count = 0
        self._callback_queue: list[CallbackJob] = []
        self._callback_log: list[CallbackAttempt] = []
        self._callbacks_attempted = 0
        self._callbacks_delivered = 0
        self._callbacks_failed = 0
        self._callbacks_dropped = 0
        self._callbacks_by_fault: Counter[str] = Counter()
        # Headers of the latest genuinely signed callbacks of two distinct tasks: what a ``other_task``
        # signature fault copies onto another task's callback.
        self._genuine_signatures: list[tuple[str, dict[str, str]]] = []
        self._market_outputs: dict[str, int] = {}
        # Veo upgrades not yet settled: (ready_at, seq, task id, variant).
        self._pending_upgrades: list[tuple[float, int, str, str]] = []
        self._upgrade_counts: Counter[str] = Counter()

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        """Emulator time: the wall clock plus whatever :meth:`advance_time` added."""
        return self._clock() + self._offset

    def advance_time(self, kie_seconds: float) -> None:
        """Jump ``kie_seconds`` of KIE time ahead (scaled like every other duration).

        Lets tests see 14-day media expiry or a 20-minute link TTL without waiting or changing the config.
        """
        if kie_seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += self.config.scaled(kie_seconds)
            self._settle(self.now())

    # ------------------------------------------------------------------ runtime knobs

    def set_faults(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        """Replace the active fault rules (counters restart)."""
        self.faults.replace(rules, seed=seed)

    def add_fault(self, rule: FaultRule) -> None:
        """Add one fault rule after the active ones."""
        self.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.replace(())

    @property
    def credits(self) -> int:
        """Current credit balance."""
        with self._lock:
            self._settle(self.now())
            return self._balance

    def set_credits(self, balance: int) -> None:
        """Set the balance (e.g. to 0 to provoke 402)."""
        if balance < 0:
            raise ValueError("balance must be >= 0")
        with self._lock:
            self._balance = balance

    def reconfigure(self, config: EmulatorConfig) -> None:
        """Switch to ``config`` and reset, without restarting the server (cheaper than a new emulator)."""
        with self._lock:
            self.config = config
            self.reset()

    def reset(self) -> None:
        """Forget everything: tasks, uploads, links, counters, clock offset; credits and faults back to
        config."""
        with self._lock:
            self._epoch += 1
            self._init_account()
            self.faults.replace(self.config.faults, seed=self.config.seed)
        self.runway_api.reset()

    # ------------------------------------------------------------------ counters fed by the HTTP layer

    def record_call(self, endpoint: str) -> None:
        """Count one HTTP call to ``endpoint``."""
        with self._lock:
            self._calls[endpoint] += 1

    def record_fault(self, kind: FaultKind) -> None:
        """Count one injected fault."""
        with self._lock:
            self._faults_injected[kind.value] += 1

    def record_rejection(self, code: int) -> None:
        """Count one refused submission (auth, validation, credits...)."""
        with self._lock:
            self._received += 1
            self._rejections[code] += 1

    # ------------------------------------------------------------------ gatekeeping

    def check_api_key(self, authorization: str | None) -> None:
        """Raise KIE's 401 (HTTP 200, body code 401) unless ``authorization`` is ``Bearer <accepted key>``."""
        scheme, _, key = (authorization or "").strip().partition(" ")
        key = key.strip()
        accepted = scheme.lower() == "bearer" and bool(key)
        if accepted and self.config.api_keys is not None:
            # Bytes, because compare_digest refuses non-ASCII str (headers arrive latin-1 decoded).
            accepted = any(
                secrets.compare_digest(key.encode(), known.encode()) for known in self.config.api_keys
            )
        if not accepted:
            raise KieRefusal(401, MSG_UNAUTHORIZED)

    def admit_submission(self) -> None:
        """Apply the sliding-window rate limit to one submission; over it, raise 429 (HTTP 429 too).

        Every authenticated submission counts, valid or not, as at a gateway; refused ones are not queued.
        """
        with self._lock:
            now = self._monotonic()
            window = self.config.rate_window_s
            while self._submit_times and self._submit_times[0] <= now - window:
                self._submit_times.popleft()
            if len(self._submit_times) >= self.config.rate_limit:
                self._rate_limited += 1
                retry_after = max(1, math.ceil(self._submit_times[0] + window - now))
                raise KieRefusal(
                    429, MSG_RATE_LIMITED, http_status=429, headers={"Retry-After": str(retry_after)}
                )
            self._submit_times.append(now)

    # ------------------------------------------------------------------ submissions

    def submit_generate(self, request: RunwayGenerateRequest, *, base_url: str, endpoint: str) -> Task:
        """Accept a valid Runway generate request: charge it and create its task."""
        spec = TaskSpec(
            SubmissionKind.GENERATE,
            request.prompt,
            request.callback_url,
            duration=request.duration,
            quality=request.quality,
            aspect_ratio=request.aspect_ratio,
            image_url=request.image_url,
            shape=clip_shape(request.aspect_ratio, request.quality, request.duration),
        )
        return self.submit(spec, base_url=base_url, endpoint=endpoint)

    def submit_extend(self, request: RunwayExtendRequest, *, base_url: str, endpoint: str) -> Task:
        """Accept a 5 s extension of a succeeded, unexpired Runway task; it inherits the parent's aspect
        ratio."""
        spec = TaskSpec(
            SubmissionKind.EXTEND,
            request.prompt,
            request.callback_url,
            duration=5,
            quality=request.quality,
            parent_task_id=request.task_id,
        )
        return self.submit(spec, base_url=base_url, endpoint=endpoint)

    def submit_aleph(self, request: AlephGenerateRequest, *, base_url: str, endpoint: str) -> Task:
        """Accept a valid Aleph request. Aleph takes no quality: it renders 5 s and is priced as 720p."""
        spec = TaskSpec(
            SubmissionKind.ALEPH,
            request.prompt,
            request.callback_url,
            duration=5,
            quality="720p",
            aspect_ratio=request.aspect_ratio,
            params=request.params,
            shape=clip_shape(request.aspect_ratio, "720p", 5),
        )
        return self.submit(spec, base_url=base_url, endpoint=endpoint)

    def submit_jobs(self, request: JobsCreateTaskRequest, *, base_url: str, endpoint: str) -> Task:
        """Accept a valid Market (jobs) request for any model; it is priced by its model name (a ``costs``
        entry, else its catalogue price, else the ``"*"`` default)."""
        with self._lock:
            override = self._market_outputs
            outputs = override.get(request.model, override.get("*"))
            if outputs is None:
                outputs = self.config.outputs_for(request.model, request.outputs)
        spec = TaskSpec(
            SubmissionKind.JOBS,
            request.prompt,
            request.callback_url,
            params=request.params,
            model=request.model,
            shape=request.shape,
            outputs=outputs,
            media=request.media,
            listed_cost=request.credits,
        )
        return self.submit(spec, base_url=base_url, endpoint=endpoint)

    def submit_veo(self, request: VeoGenerateRequest, *, base_url: str, endpoint: str) -> Task:
        """Accept a valid Veo 3.1 generate request, priced by model and resolution."""
        spec = TaskSpec(
            SubmissionKind.VEO,
            request.prompt,
            request.callback_url,
            duration=request.duration,
            aspect_ratio=request.aspect_ratio,
            image_url=request.image_urls[0] if request.image_urls else "",
            params=request.params,
            model=request.model,
            resolution=request.resolution,
            shape=clip_shape(request.aspect_ratio, request.resolution, request.duration),
        )
        return self.submit(spec, base_url=base_url, endpoint=endpoint)

    def submit_veo_extend(self, request: VeoExtendRequest, *, base_url: str, endpoint: str) -> Task:
        """Accept an extension of a succeeded Veo task; it keeps the parent's ratio and resolution."""
        spec = TaskSpec(
            SubmissionKind.VEO_EXTEND,
            request.prompt,
            request.callback_url,
            duration=VEO_EXTENSION_S,
            params=request.params,
            model=request.model,
            parent_task_id=request.task_id,
        )
        return self.submit(spec, base_url=base_url, endpoint=endpoint)

    def set_market_outputs(self, model: str, count: int | None) -> None:
        """Make Market tasks of ``model`` (``"*"``: every model) yield ``count`` results from now on;
        ``None`` removes the override (back to ``market_outputs``/the catalogue). Cleared by a reset."""
        if count is not None and count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            if count is None:
                self._market_outputs.pop(model, None)
            else:
                self._market_outputs[model] = count

    def submit(self, spec: TaskSpec, *, base_url: str, endpoint: str) -> Task:
        """The one submit path: check the parent (extensions), charge, decide the task's fate (concurrency
        cap, task faults), create it and count it.

        Raises:
            KieRefusal: 422 for a parent that cannot be extended, 402 when the balance cannot cover the cost;
                nothing is charged then.
        """
        with self._lock:
            config = self.config
            now = self.now()
            self._settle(now)
            if spec.parent_task_id:
                spec = self._extension_spec(spec, self._extendable_parent(spec, now))
            cost = config.cost_of(spec.kind, spec.price_duration, spec.price_tier, listed=spec.listed_cost)
            if self._balance < cost:
                raise KieRefusal(402, MSG_INSUFFICIENT_CREDITS)
            timeline = config.timeline_for(spec.kind)
            wait_until = now + config.scaled(timeline.wait_s)
            queue_until = wait_until + config.scaled(timeline.queueing_s)
            done_at = queue_until + config.scaled(timeline.generating_s)
            succeeds, fail_code, fail_msg = True, None, ""
            if self._active >= config.concurrency_cap:
                # KIE accepts the submission and fails the task at once; the refund comes on settling.
                succeeds, fail_code, fail_msg = False, REFUSED_FAIL_CODE, MSG_CONCURRENCY
                wait_until = queue_until = done_at = now
            else:
                rule = self.faults.pick_task_fault(endpoint, spec.prompt)
                if rule is not None:
                    self._faults_injected[rule.kind.value] += 1
                    succeeds = False
                    if rule.kind is FaultKind.MODERATION:
                        # Moderation runs when generation would start: the task never reaches "generating".
                        fail_code, fail_msg, done_at = REFUSED_FAIL_CODE, MSG_MODERATION, queue_until
                    else:
                        fail_code, fail_msg = rule.fail_code, rule.fail_msg or MSG_GENERATION_FAILED
            task = Task(
                task_id=self._new_task_id(spec),
                spec=spec,
                created_at=now,
                wait_until=wait_until,
                queue_until=queue_until,
                done_at=done_at,
                succeeds=succeeds,
                fail_code=fail_code,
                fail_msg=fail_msg,
                cost=cost,
                base_url=config.public_base_url or base_url.rstrip("/"),
                video_id=str(uuid.uuid4()),
                media_expires_at=(
                    done_at + config.scaled(config.retention_for(spec.kind)) if succeeds else None
                ),
            )
            self._balance -= cost
            self._charged += cost
            self._received += 1
            self._accepted_by_kind[spec.kind.value] += 1
            self._tasks[task.task_id] = task
            self._active += 1
            self._seq += 1
            heapq.heappush(self._pending, (done_at, self._seq, task.task_id))
            self._settle(now)
            return task

    def _new_task_id(self, spec: TaskSpec) -> str:
        """A task id in the family's documented shape: Runway/Aleph UUIDs, Market ``task_<model
        prefix>_<epoch ms>`` (KIE's examples: ``task_kling-2.6_1765182425861``), Veo ``veo_task_<hex>``."""
        if spec.kind is SubmissionKind.JOBS:
            prefix = _ID_UNSAFE.sub("-", spec.model.split("/", 1)[0]) or "model"
            # Strictly increasing over the state's whole life (resets included): ids stay unique, and so do
            # the rendered files cached under them.
            self._last_stamp = max(int(self.now() * 1000), self._last_stamp + 1)
            return f"task_{prefix}_{self._last_stamp}"
        if spec.kind.family == "veo":
            return f"veo_task_{uuid.uuid4().hex[:16]}"
        return str(uuid.uuid4())

    def _extension_spec(self, spec: TaskSpec, parent: Task) -> TaskSpec:
        """An extension's spec completed from its parent: Runway keeps the ratio (its own quality and 5 s);
        Veo keeps ratio and resolution, and its whole video grows by the extension."""
        if spec.kind is SubmissionKind.VEO_EXTEND:
            whole = parent.spec.full_duration_s or parent.spec.shape.duration_s
            return replace(
                spec,
                aspect_ratio=parent.spec.aspect_ratio,
                resolution=parent.spec.resolution,
                shape=replace(parent.spec.shape, duration_s=float(spec.duration)),
                full_duration_s=whole + spec.duration,
            )
        return replace(
            spec,
            aspect_ratio=parent.spec.aspect_ratio,
            shape=clip_shape(parent.spec.aspect_ratio, spec.quality, spec.duration),
        )

    def _extendable_parent(self, spec: TaskSpec, now: float) -> Task:
        """The parent of extension ``spec`` if it can be extended at ``now``; else KIE's 422."""
        task_id = spec.parent_task_id
        parent = self._tasks.get(task_id)
        if parent is None or parent.spec.kind.family != spec.kind.family:
            raise validation_error(f"taskId {task_id!r} not found: {MSG_RECORD_NULL}")
        parent_phase = parent.state_at(now)
        if parent_phase is not TaskPhase.SUCCESS:
            raise validation_error(
                f"taskId: only a successfully generated video can be extended (state is {parent_phase.value})"
            )
        if parent.media_expired(now):
            raise validation_error("taskId: the video has expired and can no longer be extended")
        if spec.kind is SubmissionKind.VEO_EXTEND and (
            parent.spec.resolution not in ("", "720p") or "1080p" in parent.upgrades
        ):
            # KIE's extend page: "videos after 1080P generation cannot be extended".
            raise validation_error("taskId: a video generated or upgraded to 1080P/4K cannot be extended")
        return parent

    def _settle(self, now: float) -> None:
        """Do the bookkeeping of every task that turned terminal by ``now``: free its concurrency slot, refund
        it if it failed, queue its callback; the same for Veo upgrades. Called (under the lock) before every
        read or write of the account."""
        self._settle_upgrades(now)
        while self._pending and self._pending[0][0] <= now:
            _, _, task_id = heapq.heappop(self._pending)
            task = self._tasks.get(task_id)
            if task is None or task.settled:
                continue
            task.settled = True
            self._active -= 1
            if not task.succeeds and not task.refunded:
                task.refunded = True
                self._balance += task.cost
                self._refunded += task.cost
                self._refunded_tasks += 1
            if task.spec.callback_url:
                self._seq += 1
                heapq.heappush(
                    self._callback_queue,
                    CallbackJob(
                        task.done_at,
                        self._seq,
                        task.task_id,
                        task.spec.callback_url,
                        callback_payload(task),
                        epoch=self._epoch,
                    ),
                )

    # ------------------------------------------------------------------ reads

    def get_task(self, task_id: str, *, family: Family) -> tuple[Task, float]:
        """The task ``task_id`` of ``family`` (``runway``, ``aleph``, ``jobs``) and the time to render it at.

        Unknown ids (or ids of another family) raise KIE's quirky 422 ``recordInfo is null``.
        """
        with self._lock:
            now = self.now()
            self._settle(now)
            task = self._tasks.get(task_id)
            if task is None or task.spec.kind.family != family:
                raise KieRefusal(422, MSG_RECORD_NULL)
            return task, now

    def snapshot(self, task_id: str) -> TaskSnapshot | None:
        """A read-only view of one task, or ``None``."""
        with self._lock:
            now = self.now()
            self._settle(now)
            task = self._tasks.get(task_id)
            return None if task is None else self._snapshot(task, now)

    def tasks(self) -> list[TaskSnapshot]:
        """Read-only views of every task, oldest first."""
        with self._lock:
            now = self.now()
            self._settle(now)
            return [self._snapshot(task, now) for task in self._tasks.values()]

    @staticmethod
    def _snapshot(task: Task, now: float) -> TaskSnapshot:
        spec = task.spec
        return TaskSnapshot(
            result_urls=tuple(task.result_urls()),
            width=spec.shape.width,
            height=spec.shape.height,
            clip_seconds=spec.shape.duration_s,
            task_id=task.task_id,
            kind=spec.kind.value,
            state=task.state_at(now).value,
            created_at=task.created_at,
            done_at=task.done_at,
            cost=task.cost,
            refunded=task.refunded,
            parent_task_id=spec.parent_task_id,
            prompt=spec.prompt,
            duration=spec.duration,
            quality=spec.quality,
            aspect_ratio=spec.aspect_ratio,
            callback_url=spec.callback_url,
            fail_code=task.fail_code,
            fail_msg=task.fail_msg,
            media_expired=task.media_expired(now),
            video_url=task.video_url,
            image_url=task.image_url_out,
            model=spec.model,
        )

    def stats(self) -> EmulatorStats:
        """Counters since start or the last reset."""
        with self._lock:
            now = self.now()
            self._settle(now)
            by_state = Counter(task.state_at(now).value for task in self._tasks.values())
            accepted = sum(self._accepted_by_kind.values())
            return EmulatorStats(
                submissions_received=self._received,
                submissions_accepted=accepted,
                submissions_rejected=sum(self._rejections.values()),
                rejections_by_code=dict(self._rejections),
                paid_submissions=accepted - self._refunded_tasks,
                refunded_submissions=self._refunded_tasks,
                accepted_by_kind=dict(self._accepted_by_kind),
                credits_balance=self._balance,
                credits_charged=self._charged,
                credits_refunded=self._refunded,
                calls_by_endpoint=dict(self._calls),
                faults_injected=dict(self._faults_injected),
                rate_limited=self._rate_limited,
                callbacks_attempted=self._callbacks_attempted,
                callbacks_delivered=self._callbacks_delivered,
                callbacks_failed=self._callbacks_failed,
                callbacks_dropped=self._callbacks_dropped,
                callbacks_by_fault=dict(self._callbacks_by_fault),
                tasks_by_state=dict(by_state),
                uploads=self._upload_count,
                download_links=self._link_count,
                upgrades=dict(self._upgrade_counts),
            )

    # ------------------------------------------------------------------ media and links

    def resolve_media(self, task_id: str, variant: str, ext: MediaExt) -> RenderJob | None:
        """What ``/media/<task_id>[/<variant>].<ext>`` serves now, or ``None`` (404): the task must have
        succeeded, its media must not have expired, and the variant must exist (a Veo upgrade once ready)."""
        with self._lock:
            now = self.now()
            self._settle(now)
            task = self._tasks.get(task_id)
            if task is None or task.state_at(now) is not TaskPhase.SUCCESS or task.media_expired(now):
                return None
            upgrade = task.upgrades.get(variant)
            if upgrade is not None and (now < upgrade.ready_at or not upgrade.succeeds):
                return None
            shape = task.variant_shape(variant)
            if shape is None:
                return None
            return RenderJob(task_id, variant, ext, shape, task.spec.prompt)

    def media_url_status(self, task_id: str, variant: str, ext: MediaExt, url: str) -> str:
        """``live`` when ``url`` (scheme, host, path) is a file this task produced and it is servable now,
        ``gone`` when it was produced but is not (or no longer) available, ``foreign`` otherwise."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.variant_shape(variant) is None or task.media_url(variant, ext) != url:
                return "foreign"
        return "live" if self.resolve_media(task_id, variant, ext) is not None else "gone"

    def render_media(self, job: RenderJob) -> bytes:
        """The bytes of ``job`` as the configured renderer makes them (blocking; routes use the async
        form)."""
        return self.media.render(job, self.config.media_renderer)

    async def render_media_async(self, job: RenderJob) -> bytes:
        """:meth:`render_media` on a worker thread."""
        return await self.media.render_async(job, self.config.media_renderer)

    def create_download_link(self, target_path: str, base_url: str) -> str:
        """Mint a direct link to ``target_path`` (a media path checked by the caller) valid for the link
        TTL."""
        with self._lock:
            token = secrets.token_urlsafe(16)
            expires_at = self.now() + self.config.scaled(self.config.download_link_ttl_s)
            self._links[token] = DownloadLink(token=token, target_path=target_path, expires_at=expires_at)
            self._link_count += 1
            name = target_path.rsplit("/", 1)[-1]
            return f"{self.config.public_base_url or base_url.rstrip('/')}/media/dl/{token}/{name}"

    def resolve_download_link(self, token: str) -> tuple[DownloadLink | None, bool]:
        """The link behind ``token`` and whether it is still valid."""
        with self._lock:
            link = self._links.get(token)
            return link, link is not None and self.now() < link.expires_at

    # ------------------------------------------------------------------ upload host

    def store_upload(self, file_path: str, file_name: str, data: bytes, mime_type: str) -> UploadedFile:
        """Keep an uploaded file (replacing one at the same path) until the upload retention ends."""
        with self._lock:
            now = self.now()
            upload = UploadedFile(
                file_path=file_path,
                file_name=file_name,
                data=data,
                mime_type=mime_type,
                uploaded_at=now,
                expires_at=now + self.config.scaled(self.config.upload_retention_s),
            )
            self._uploads[file_path] = upload
            self._upload_count += 1
            return upload

    def get_upload(self, file_path: str) -> UploadedFile | None:
        """The unexpired upload at ``file_path``, or ``None``."""
        with self._lock:
            upload = self._uploads.get(file_path)
            if upload is None or self.now() >= upload.expires_at:
                return None
            return upload

    # ------------------------------------------------------------------ callbacks

    def take_due_callbacks(self) -> list[CallbackJob]:
        """Remove and return the callbacks due by now (the dispatcher POSTs them).

        A callback's faults are decided when it first falls due: dropped ones are logged and never
        returned, delayed ones go back to the queue, duplicated ones come with their copies.
        """
        with self._lock:
            now = self.now()
            self._settle(now)
            due: list[CallbackJob] = []
            while self._callback_queue and self._callback_queue[0].due_at <= now:
                job = heapq.heappop(self._callback_queue)
                if job.faults is None:
                    due.extend(self._apply_callback_faults(job))
                else:
                    due.append(job)
            return due

    def _apply_callback_faults(self, job: CallbackJob) -> list[CallbackJob]:
        """Decide (once) which callback faults hit ``job``; return the POSTs due now (under the lock)."""
        rules = self.faults.pick_callback_faults(urlsplit(job.url).path)
        job.faults = rules
        kinds = {rule.kind: rule for rule in rules}
        for kind in kinds:
            self._faults_injected[kind.value] += 1
        if FaultKind.CALLBACK_DROP in kinds:
            label = FaultKind.CALLBACK_DROP.value
            self._callbacks_dropped += 1
            self._callbacks_by_fault[label] += 1
            self._callback_log.append(
                CallbackAttempt(
                    task_id=job.task_id,
                    url=job.url,
                    attempt=job.attempt,
                    at=time.time(),
                    ok=False,
                    status_code=None,
                    error="dropped by a callback_drop fault: never sent, never retried",
                    payload=job.payload,
                    headers={},
                    faults=(label,),
                    sent=False,
                )
            )
            return []
        posts = [job]
        duplicate = kinds.get(FaultKind.CALLBACK_DUPLICATE)
        if duplicate is not None:
            for _ in range(duplicate.copies - 1):
                self._seq += 1
                posts.append(replace(job, seq=self._seq, role="duplicate", retry=False))
        delay = kinds.get(FaultKind.CALLBACK_DELAY)
        if delay is not None and delay.after_s > 0:
            for post in posts:  # back to the queue, copies too; decided, so they are not faulted again
                post.due_at += self.config.scaled(delay.after_s)
                heapq.heappush(self._callback_queue, post)
            return []
        return posts

    def forge_callback(
        self, task_id: str, *, signature: SignatureFault | str | None = None, url: str | None = None
    ) -> None:
        """POST ``task_id``'s callback body now, to ``url`` (default: the task's ``callBackUrl``), whatever
        the task's state: what a forger who knows the body shape could send. ``signature`` spoils its headers
        like a ``callback_signature`` fault; ``None`` signs it correctly (a genuine-looking callback that
        arrives before KIE's). Sent once, never retried, logged with the fault ``callback_forged``.

        Raises:
            ValueError: ``task_id`` is unknown or has no callback URL and none is given.
        """
        mode = None if signature is None else SignatureFault(signature)
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise ValueError(f"task_id {task_id!r}: no such task")
            target = url or task.spec.callback_url
            if not target:
                raise ValueError(f"task_id {task_id!r} has no callBackUrl; give url")
            faults = () if mode is None else (FaultRule(FaultKind.CALLBACK_SIGNATURE, signature=mode),)
            self._seq += 1
            heapq.heappush(
                self._callback_queue,
                CallbackJob(
                    self.now(),
                    self._seq,
                    task_id,
                    target,
                    callback_payload(task),
                    epoch=self._epoch,
                    faults=faults,
                    role="forged",
                    retry=False,
                ),
            )

    def replay_callback(self, task_id: str) -> CallbackAttempt:
        """POST the last callback sent for ``task_id`` again now, with the very same URL, body and headers
        (its old timestamp and signature), once, never retried; return the attempt being replayed.

        Raises:
            ValueError: no callback of ``task_id`` has been sent yet.
        """
        with self._lock:
            sent = [a for a in self._callback_log if a.task_id == task_id and a.sent]
            if not sent:
                raise ValueError(f"task_id {task_id!r}: no callback sent yet, nothing to replay")
            original = sent[-1]
            self._queue_replay(task_id, original.url, original.payload, original.headers, delay_s=0.0)
            return original

    def _queue_replay(
        self,
        task_id: str,
        url: str,
        payload: dict[str, Any],
        headers: dict[str, str],
        *,
        delay_s: float,
        faults: tuple[FaultRule, ...] = (),
    ) -> None:
        self._seq += 1
        heapq.heappush(
            self._callback_queue,
            CallbackJob(
                self.now() + delay_s,
                self._seq,
                task_id,
                url,
                payload,
                epoch=self._epoch,
                faults=faults,
                role="replay",
                headers=dict(headers),
                retry=False,
            ),
        )

    def borrowed_signature(self, task_id: str) -> dict[str, str] | None:
        """The signature headers of the latest genuinely signed callback of a task other than ``task_id``,
        or ``None`` (for ``other_task`` signature faults)."""
        with self._lock:
            for other, headers in reversed(self._genuine_signatures):
                if other != task_id:
                    return dict(headers)
            return None

    def seconds_until_next_callback(self) -> float | None:
        """Real seconds until the next callback or task completion is due, or ``None`` when nothing is
        pending."""
        with self._lock:
            candidates = [job.due_at for job in self._callback_queue[:1]]
            candidates += [entry[0] for entry in self._pending[:1]]
            candidates += [entry[0] for entry in self._pending_upgrades[:1]]
            if not candidates:
                return None
            return max(0.0, min(candidates) - self.now())

    def record_callback_attempt(
        self,
        job: CallbackJob,
        *,
        ok: bool,
        status_code: int | None,
        error: str | None,
        headers: dict[str, str],
        retry: bool,
        faults: tuple[str, ...] = (),
        sent: bool = True,
    ) -> None:
        """Log one attempt; when it failed and both ``retry`` and the job allow, schedule the next one (KIE
        retries 3 times). ``faults`` labels the callback faults that shaped it; ``sent`` is False when no
        request left the emulator. The first POST of a callback hit by ``callback_replay`` schedules its
        replay."""
        with self._lock:
            if job.epoch != self._epoch:
                return  # delivered across a reset: it belongs to a run nobody is looking at any more
            self._callbacks_attempted += 1
            if ok:
                self._callbacks_delivered += 1
            else:
                self._callbacks_failed += 1
            self._callbacks_by_fault.update(faults)
            spoiled = any(r.kind is FaultKind.CALLBACK_SIGNATURE for r in job.faults or ())
            genuine = job.role in ("callback", "duplicate") and job.headers is None and not spoiled
            if sent and genuine and "X-Webhook-Signature" in headers:
                others = [entry for entry in self._genuine_signatures if entry[0] != job.task_id]
                self._genuine_signatures = [*others[-1:], (job.task_id, dict(headers))]
            replay = next((rule for rule in job.faults or () if rule.kind is FaultKind.CALLBACK_REPLAY), None)
            if replay is not None and sent and job.role == "callback" and job.attempt == 1:
                signature = tuple(r for r in job.faults or () if r.kind is FaultKind.CALLBACK_SIGNATURE)
                self._queue_replay(
                    job.task_id,
                    job.url,
                    job.payload,
                    headers,
                    delay_s=self.config.scaled(replay.after_s),
                    faults=(replay, *signature),
                )
            self._callback_log.append(
                CallbackAttempt(
                    task_id=job.task_id,
                    url=job.url,
                    attempt=job.attempt,
                    at=time.time(),
                    ok=ok,
                    status_code=status_code,
                    error=error,
                    payload=job.payload,
                    headers=headers,
                    faults=faults,
                    sent=sent,
                )
            )
            delays = self.config.callback_retry_delays_s
            if not ok and retry and job.retry and job.attempt <= len(delays):
                self._seq += 1
                heapq.heappush(
                    self._callback_queue,
                    CallbackJob(
                        self.now() + self.config.scaled(delays[job.attempt - 1]),
                        self._seq,
                        job.task_id,
                        job.url,
                        job.payload,
                        job.attempt + 1,
                        job.epoch,
                        faults=job.faults,
                    ),
                )

    def callback_log(self) -> list[CallbackAttempt]:
        """Every callback attempt so far, oldest first."""
        with self._lock:
            return list(self._callback_log)
