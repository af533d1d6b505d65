"""The emulated Runway organisation: tasks, concurrency slots, the daily limit, credits, counters.

A task's status is computed from the clock, like KIE tasks', except that a ``THROTTLED`` task starts only when
a slot of its model frees; :meth:`RunwayApiState._advance` replays those events in time order before every
read or write, so no background worker is needed and ``advance_time`` works as for KIE tasks.

Lifecycle (https://docs.dev.runwayml.com/usage/tiers and the runwayml SDK's ``tasks.delete``):

* a create over the model's concurrency limit is stored ``THROTTLED`` and starts, oldest first, when a slot
  frees; otherwise it is ``PENDING``, then ``RUNNING`` (``progress`` 0 to 1), then ``SUCCEEDED`` (``output``)
  or ``FAILED`` (``failure``, ``failureCode``);
* ``DELETE`` cancels a pending, throttled or running task (``CANCELLED``; refunded unless it was ``RUNNING``)
  and deletes any other (then 404; a deleted finished task is not refunded);
* creates are charged at once; a ``FAILED`` task is refunded unless its input failed moderation
  (``SAFETY.INPUT.*`` is "not refundable" in Runway's reference);
* output URLs expire ``output_ttl_s`` after the read that minted them; reading the task mints fresh ones.
"""

from __future__ import annotations

import enum
import heapq
import hmac
import math
import secrets
import threading
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_kie.emulator.dimensions import ClipShape
from airflow_provider_kie.emulator.faults import FaultKind, FaultRule
from airflow_provider_kie.emulator.render import RenderJob
from airflow_provider_kie.emulator.runway_api_config import (
    RUNWAY_API_KEY_PATTERN,
    RUNWAY_CDN_PREFIX,
    RunwayApiConfig,
)
from airflow_provider_kie.emulator.runway_api_rules import MODELS, ParsedCreate, RunwayApiRefusal, bad_request

if TYPE_CHECKING:
    from airflow_provider_kie.emulator.state import EmulatorState

__all__ = ["RunwayApiState", "RunwayApiStats", "RunwayApiStatus", "RunwayApiTask", "RunwayApiTaskSnapshot"]

MSG_UNAUTHORIZED = "Incorrect or missing API key. Keys look like key_ followed by 128 hexadecimal characters."
#: https://github.com/runwayml/sdk-node/issues/28
MSG_NO_CREDITS = "You do not have enough credits to run this task."
MSG_NOT_FOUND = "Task not found."
SAFETY_INPUT = "SAFETY.INPUT.TEXT"
BAD_OUTPUT = "INTERNAL.BAD_OUTPUT.CODE01"
DAY_S = 24 * 3600.0


class RunwayApiStatus(str, enum.Enum):
    """The ``status`` values of ``GET /v1/tasks/{id}``."""

    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_active(self) -> bool:
        """Whether ``DELETE`` cancels (rather than deletes) a task in this status."""
        return self in (RunwayApiStatus.PENDING, RunwayApiStatus.THROTTLED, RunwayApiStatus.RUNNING)


@dataclass
class RunwayApiTask:
    """One accepted create. Times are on the emulator clock; ``started_at`` is ``None`` while throttled."""

    task_id: str
    parsed: ParsedCreate
    cost: int
    created_at: float
    base_url: str
    succeeds: bool
    failure: str | None = None
    failure_code: str | None = None
    #: A moderation fault fails the task when it would start running.
    fails_at_start: bool = False
    was_throttled: bool = False
    started_at: float | None = None
    running_at: float = math.inf
    done_at: float = math.inf
    cancelled_at: float | None = None
    deleted: bool = False
    #: Slot freed and refund decided (at the end, or at a cancel).
    settled: bool = False
    refunded: bool = False

    def status_at(self, now: float) -> RunwayApiStatus:
        """The status at emulator time ``now``."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return RunwayApiStatus.CANCELLED
        if self.started_at is None:
            return RunwayApiStatus.THROTTLED
        if now < self.running_at:
            return RunwayApiStatus.PENDING
        if now < self.done_at:
            return RunwayApiStatus.RUNNING
        return RunwayApiStatus.SUCCEEDED if self.succeeds else RunwayApiStatus.FAILED

    def progress_at(self, now: float) -> float:
        span = self.done_at - self.running_at
        return 0.0 if span <= 0 else round(min(1.0, max(0.0, (now - self.running_at) / span)), 3)


@dataclass(frozen=True)
class RunwayApiTaskSnapshot:
    """A read-only view of one task for tests and ``GET /_emulator/runway-api/tasks``."""

    task_id: str
    endpoint: str
    model: str
    status: str
    prompt: str
    cost: int
    refunded: bool
    was_throttled: bool
    deleted: bool
    width: int
    height: int
    clip_seconds: float
    failure_code: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunwayApiStats:
    """Counters of the emulated Runway API since start or the last reset.

    Attributes:
        creates_received: Create calls that reached their handler (key and version refusals included).
        creates_accepted: Of those, the ones answered with an id (charged).
        creates_rejected: Of those, the ones refused; ``rejections_by_status`` by HTTP status.
        paid_creates: Accepted creates charged and not refunded.
        refunded_creates: Accepted creates refunded (failed, or cancelled before running).
        throttled_creates: Creates stored ``THROTTLED`` because their model's slots were full.
        daily_limited: Creates refused with 429 for the daily generation limit.
        deletes: ``DELETE /v1/tasks/{id}`` calls that reached the handler, of which ``cancels`` cancelled a
            task, ``deletions`` deleted a finished one and ``deletes_not_found`` found nothing.
        credits_*: The organisation's balance and what was charged and refunded.
        tasks_by_status: Every task's current status (deleted tasks as ``DELETED``).
    """

    creates_received: int
    creates_accepted: int
    creates_rejected: int
    rejections_by_status: dict[int, int]
    paid_creates: int
    refunded_creates: int
    throttled_creates: int
    daily_limited: int
    deletes: int
    cancels: int
    deletions: int
    deletes_not_found: int
    credits_balance: int
    credits_charged: int
    credits_refunded: int
    tasks_by_status: dict[str, int] = field(default_factory=dict)

    @property
    def credits_spent(self) -> int:
        return self.credits_charged - self.credits_refunded

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejections_by_status"] = {str(k): v for k, v in self.rejections_by_status.items()}
        data["credits_spent"] = self.credits_spent
        return data


def iso(epoch: float) -> str:
    """``2024-06-27T19:49:32.334Z``, as Runway writes ``createdAt``."""
    text = datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class RunwayApiState:
    """The emulated Runway organisation, owned by the :class:`EmulatorState` whose clock, time scale, fault
    plan and media renderer it shares. Its own lock is never held while taking the owner's."""

    def __init__(self, owner: EmulatorState) -> None:
        self._owner = owner
        self._lock = threading.RLock()
        #: Signs output URLs, so a test cannot mint one that Runway would not have.
        self._secret = secrets.token_bytes(16)
        self.reset()

    @property
    def config(self) -> RunwayApiConfig:
        return self._owner.config.runway_api

    def reset(self) -> None:
        """Forget tasks and counters; the balance back to the configuration."""
        with self._lock:
            self._tasks: dict[str, RunwayApiTask] = {}
            self._heap: list[tuple[float, int, str]] = []  # running slots by done_at
            self._seq = 0
            self._active: Counter[str] = Counter()
            self._throttled: dict[str, deque[str]] = {}
            self._creates_by_model: dict[str, deque[float]] = {}
            self._balance = self.config.initial_credits
            self._charged = 0
            self._refunded = 0
            self._refunded_creates = 0
            self._received = 0
            self._rejections: Counter[int] = Counter()
            self._throttled_creates = 0
            self._daily_limited = 0
            self._deletes = self._cancels = self._deletions = self._deletes_not_found = 0

    # ------------------------------------------------------------------ gatekeeping

    def check_key(self, authorization: str | None) -> None:
        """401 unless ``authorization`` is ``Bearer <accepted key>``."""
        scheme, _, key = (authorization or "").strip().partition(" ")
        key = key.strip()
        keys = self.config.api_keys
        if keys is None:
            accepted = scheme.lower() == "bearer" and bool(RUNWAY_API_KEY_PATTERN.match(key))
        else:
            accepted = scheme.lower() == "bearer" and any(
                secrets.compare_digest(key.encode(), known.encode()) for known in keys
            )
        if not accepted:
            raise RunwayApiRefusal(401, MSG_UNAUTHORIZED)

    def check_version(self, version: str | None) -> None:
        """400 naming ``X-Runway-Version`` when it is missing or not a version this emulator serves."""
        supported = ", ".join(self.config.api_versions)
        if not version or not version.strip():
            raise bad_request(f"X-Runway-Version: header is required; supported versions: {supported}")
        if version.strip() not in self.config.api_versions:
            raise bad_request(f"X-Runway-Version: {version.strip()!r} is not supported; use {supported}")

    def record_rejection(self, status: int) -> None:
        """Count a create refused after the key and version checks."""
        with self._lock:
            self._received += 1
            self._rejections[status] += 1

    # ------------------------------------------------------------------ time

    def _scaled(self, seconds: float) -> float:
        return self._owner.config.scaled(seconds)

    def _start(self, task: RunwayApiTask, at: float) -> None:
        """Give ``task`` a slot of its model at ``at``: PENDING, then RUNNING, then its end."""
        config = self.config
        task.started_at = at
        task.running_at = at + self._scaled(config.pending_s)
        task.done_at = (
            task.running_at if task.fails_at_start else task.running_at + self._scaled(config.running_s)
        )
        self._active[task.parsed.model] += 1
        self._seq += 1
        heapq.heappush(self._heap, (task.done_at, self._seq, task.task_id))

    def _free_slot(self, model: str, at: float) -> None:
        """A slot of ``model`` freed at ``at``: the oldest throttled task of that model starts then."""
        self._active[model] -= 1
        queue = self._throttled.get(model)
        while queue and self._active[model] < self.config.concurrency_for(model):
            waiting = self._tasks[queue.popleft()]
            if waiting.cancelled_at is None and not waiting.deleted:
                self._start(waiting, at)

    def _refund(self, task: RunwayApiTask) -> None:
        if not task.refunded:
            task.refunded = True
            self._balance += task.cost
            self._refunded += task.cost
            self._refunded_creates += 1

    def _advance(self, now: float) -> None:
        """Settle, in time order, every task that ended by ``now``, starting throttled tasks as slots free."""
        while self._heap and self._heap[0][0] <= now:
            done_at, _, task_id = heapq.heappop(self._heap)
            task = self._tasks[task_id]
            if task.settled:
                continue  # cancelled before its end
            task.settled = True
            if not task.succeeds and not (task.failure_code or "").startswith("SAFETY.INPUT"):
                self._refund(task)
            self._free_slot(task.parsed.model, done_at)

    # ------------------------------------------------------------------ creates

    def create(self, parsed: ParsedCreate, *, base_url: str, path: str) -> RunwayApiTask:
        """Accept a valid create: the daily limit (429), the balance (400), then a slot or ``THROTTLED``.

        Raises:
            RunwayApiRefusal: 429 over the model's daily generations, 400 without enough credits.
        """
        with self._lock:
            config = self.config
            now = self._owner.now()
            self._advance(now)
            self._received += 1
            recent = self._creates_by_model.setdefault(parsed.model, deque())
            window = self._scaled(DAY_S)
            while recent and recent[0] <= now - window:
                recent.popleft()
            if len(recent) >= config.max_daily_generations:
                self._daily_limited += 1
                self._rejections[429] += 1
                retry_after = max(1, math.ceil(recent[0] + window - now))
                raise RunwayApiRefusal(
                    429,
                    f"You have reached the daily generation limit of {config.max_daily_generations} for "
                    f"{parsed.model}.",
                    headers={"Retry-After": str(retry_after)},
                )
            cost = parsed.credits(config.credits_per_second)
            if self._balance < cost:
                self._rejections[400] += 1
                raise bad_request(MSG_NO_CREDITS)
            # Task faults count accepted creates only, as KIE submissions (the fault plan has its own lock).
            rule = self._owner.faults.pick_task_fault(path, parsed.prompt)
            task = RunwayApiTask(
                task_id=str(uuid.uuid4()),
                parsed=parsed,
                cost=cost,
                created_at=now,
                base_url=self._owner.config.public_base_url or base_url.rstrip("/"),
                succeeds=rule is None,
            )
            if rule is not None:
                task.fails_at_start = rule.kind is FaultKind.MODERATION
                task.failure_code = SAFETY_INPUT if task.fails_at_start else BAD_OUTPUT
                task.failure = _failure_text(rule)
            self._balance -= cost
            self._charged += cost
            recent.append(now)
            self._tasks[task.task_id] = task
            if self._active[parsed.model] < config.concurrency_for(parsed.model):
                self._start(task, now)
            else:
                task.was_throttled = True
                self._throttled_creates += 1
                self._throttled.setdefault(parsed.model, deque()).append(task.task_id)
        if rule is not None:
            self._owner.record_fault(rule.kind)  # after releasing the lock: the owner's lock comes first
        return task

    # ------------------------------------------------------------------ reads and deletes

    def _live(self, task_id: str, now: float) -> RunwayApiTask:
        self._advance(now)
        task = self._tasks.get(task_id)
        if task is None or task.deleted:
            raise RunwayApiRefusal(404, MSG_NOT_FOUND)
        return task

    def task_body(self, task_id: str) -> dict[str, Any]:
        """``GET /v1/tasks/{id}``: the task as Runway shows it, with freshly signed output URLs."""
        with self._lock:
            now = self._owner.now()
            task = self._live(task_id, now)
            status = task.status_at(now)
            body: dict[str, Any] = {
                "id": task.task_id,
                "status": status.value,
                "createdAt": iso(task.created_at),
            }
            if status is RunwayApiStatus.RUNNING:
                body["progress"] = task.progress_at(now)
            elif status is RunwayApiStatus.SUCCEEDED:
                expires_ms = int((now + self._scaled(self.config.output_ttl_s)) * 1000)
                body["output"] = [self._output_url(task, 0, expires_ms)]
            elif status is RunwayApiStatus.FAILED:
                body["failure"] = task.failure
                body["failureCode"] = task.failure_code
            return body

    def cancel(self, task_id: str) -> RunwayApiStatus:
        """``DELETE /v1/tasks/{id}``: cancel an active task or delete a finished one; returns the status it
        was in. Raises the 404 of an unknown or already deleted task."""
        with self._lock:
            now = self._owner.now()
            self._deletes += 1
            try:
                task = self._live(task_id, now)
            except RunwayApiRefusal:
                self._deletes_not_found += 1
                raise
            status = task.status_at(now)
            if not status.is_active:
                task.deleted = True
                self._deletions += 1
                return status
            task.cancelled_at = now
            self._cancels += 1
            if status is not RunwayApiStatus.RUNNING:
                self._refund(task)  # Runway refunds what it had not started running
            if status is RunwayApiStatus.THROTTLED:
                self._throttled[task.parsed.model].remove(task.task_id)
            else:
                task.settled = True
                self._free_slot(task.parsed.model, now)
            return status

    # ------------------------------------------------------------------ outputs

    def _signature(self, task_id: str, index: int, expires_ms: int) -> str:
        message = f"{task_id}/{index}/{expires_ms}".encode()
        return hmac.new(self._secret, message, "sha256").hexdigest()[:32]

    def _output_url(self, task: RunwayApiTask, index: int, expires_ms: int) -> str:
        signature = self._signature(task.task_id, index, expires_ms)
        return (
            f"{task.base_url}{RUNWAY_CDN_PREFIX}/{task.task_id}/{index}.mp4?exp={expires_ms}&sig={signature}"
        )

    def resolve_output(self, task_id: str, index: int, expires_ms: int, signature: str) -> RenderJob | str:
        """What an output URL serves now: a :class:`RenderJob`, ``"expired"`` (403 at a CDN) or ``"gone"``
        (404: unknown, forged, deleted or not a succeeded task)."""
        if not hmac.compare_digest(signature, self._signature(task_id, index, expires_ms)):
            return "gone"
        with self._lock:
            now = self._owner.now()
            self._advance(now)
            task = self._tasks.get(task_id)
            if (
                task is None
                or task.deleted
                or task.status_at(now) is not RunwayApiStatus.SUCCEEDED
                or index != 0
            ):
                return "gone"
            if now * 1000 >= expires_ms:
                return "expired"
            return RenderJob(task_id, "", "mp4", task.parsed.shape, task.parsed.prompt)

    # ------------------------------------------------------------------ organisation and views

    def organization(self) -> dict[str, Any]:
        """``GET /v1/organization``: balance, tier limits per model, creates in the past 24 h."""
        with self._lock:
            config = self.config
            now = self._owner.now()
            self._advance(now)
            window = self._scaled(DAY_S)
            usage = {
                model: {"dailyGenerations": sum(1 for at in times if at > now - window)}
                for model, times in self._creates_by_model.items()
            }
            return {
                "creditBalance": self._balance,
                "tier": {
                    "maxMonthlyCreditSpend": config.max_monthly_credit_spend,
                    "models": {
                        name: {
                            "maxConcurrentGenerations": config.concurrency_for(name),
                            "maxDailyGenerations": config.max_daily_generations,
                        }
                        for name in MODELS
                    },
                },
                "usage": {"models": usage},
            }

    def set_credits(self, balance: int) -> None:
        """Set the organisation's balance (0 provokes the "not enough credits" 400)."""
        if balance < 0:
            raise ValueError("balance must be >= 0")
        with self._lock:
            self._balance = balance

    def tasks(self) -> list[RunwayApiTaskSnapshot]:
        """Every task, oldest first (deleted ones included, flagged)."""
        with self._lock:
            now = self._owner.now()
            self._advance(now)
            return [self._snapshot(task, now) for task in self._tasks.values()]

    @staticmethod
    def _snapshot(task: RunwayApiTask, now: float) -> RunwayApiTaskSnapshot:
        shape: ClipShape = task.parsed.shape
        return RunwayApiTaskSnapshot(
            task_id=task.task_id,
            endpoint=task.parsed.endpoint,
            model=task.parsed.model,
            status=task.status_at(now).value,
            prompt=task.parsed.prompt,
            cost=task.cost,
            refunded=task.refunded,
            was_throttled=task.was_throttled,
            deleted=task.deleted,
            width=shape.width,
            height=shape.height,
            clip_seconds=shape.duration_s,
            failure_code=task.failure_code,
        )

    def stats(self) -> RunwayApiStats:
        """The counters (see :class:`RunwayApiStats`)."""
        with self._lock:
            now = self._owner.now()
            self._advance(now)
            by_status = Counter(
                "DELETED" if task.deleted else task.status_at(now).value for task in self._tasks.values()
            )
            accepted = len(self._tasks)
            return RunwayApiStats(
                creates_received=self._received,
                creates_accepted=accepted,
                creates_rejected=sum(self._rejections.values()),
                rejections_by_status=dict(self._rejections),
                paid_creates=accepted - self._refunded_creates,
                refunded_creates=self._refunded_creates,
                throttled_creates=self._throttled_creates,
                daily_limited=self._daily_limited,
                deletes=self._deletes,
                cancels=self._cancels,
                deletions=self._deletions,
                deletes_not_found=self._deletes_not_found,
                credits_balance=self._balance,
                credits_charged=self._charged,
                credits_refunded=self._refunded,
                tasks_by_status=dict(by_status),
            )


def _failure_text(rule: FaultRule) -> str:
    if rule.kind is FaultKind.MODERATION:
        return "Your prompt was flagged by our content moderation system."
    return rule.fail_msg or "An unexpected error occurred while generating the output."
