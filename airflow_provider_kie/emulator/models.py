"""Records the emulator keeps: tasks, uploads, download links, callback attempts, and the stats it reports."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from airflow_provider_kie.emulator.config import SubmissionKind
from airflow_provider_kie.emulator.dimensions import ClipShape, clip_shape, frame_size
from airflow_provider_kie.emulator.faults import FaultRule


class TaskPhase(str, enum.Enum):
    """Runway's ``state`` values; Aleph reports the same lifecycle through ``successFlag``.

    Not ``TaskState``: the client's ``records.TaskState`` is the provider's normalised four-state view
    (pending, running, succeeded, failed); these are KIE's five wire phases, which the record payloads spell.
    """

    WAIT = "wait"
    QUEUEING = "queueing"
    GENERATING = "generating"
    SUCCESS = "success"
    FAIL = "fail"

    @property
    def is_terminal(self) -> bool:
        """Whether the task will not change state any more."""
        return self in (TaskPhase.SUCCESS, TaskPhase.FAIL)


@dataclass(frozen=True)
class TaskSpec:
    """What a submission asked for: the data by which the families' ``submit_*`` methods differ. The rest of a
    :class:`Task` (price, phases, fate) ``EmulatorState.submit`` decides the same way for every family."""

    kind: SubmissionKind
    prompt: str
    callback_url: str | None
    #: Clip seconds (0 for jobs tasks).
    duration: int = 0
    #: Video quality: Runway's requested one, Aleph's fixed 720p; "" for jobs tasks, whose price tier is
    #: their model.
    quality: str = ""
    #: ``None`` when the ratio comes from the input image; extensions take their parent's.
    aspect_ratio: str | None = None
    image_url: str = ""
    #: Extensions: the Runway task extended; it must have succeeded and its media must not have expired.
    parent_task_id: str = ""
    #: The accepted request, echoed as Aleph's ``paramJson`` / jobs' ``param``.
    params: dict[str, Any] = field(default_factory=dict)
    #: Jobs tasks: the KIE model name; Veo tasks: the generate model (``veo3_fast``...).
    model: str = ""
    #: The produced clip: frame size from the requested ratio and resolution/quality, and its length.
    shape: ClipShape = field(default_factory=lambda: clip_shape(None, None, 5))
    #: Results one task yields (Market models documenting several, or ``market_outputs``).
    outputs: int = 1
    #: ``image`` for Market image models (PNG results), ``video`` otherwise.
    media: Literal["video", "image"] = "video"
    #: The price the model's catalogue entry gives (Market), used unless ``costs`` names the model.
    listed_cost: int | None = None
    #: Veo: the requested ``resolution`` (``720p``, ``1080p``, ``4k``), reported in ``response.resolution``.
    resolution: str = ""
    #: Veo extensions: seconds of the whole video once extended (parent's whole length + this clip).
    full_duration_s: float = 0.0

    @property
    def price_duration(self) -> int:
        """The duration element of the cost-table key: 0 where KIE prices per task (Market, Veo)."""
        return (
            0
            if self.kind in (SubmissionKind.JOBS, SubmissionKind.VEO, SubmissionKind.VEO_EXTEND)
            else self.duration
        )

    @property
    def price_tier(self) -> str:
        """The last element of the cost-table key (see :data:`~.config.CostKey`)."""
        if self.kind is SubmissionKind.JOBS or self.kind is SubmissionKind.VEO_EXTEND:
            return self.model
        if self.kind is SubmissionKind.VEO:
            return f"{self.model}/{self.resolution}"
        return self.quality


#: Veo upgrade kinds: ``get-1080p-video`` and ``get-4k-video``.
UpgradeKind = Literal["1080p", "4k"]


@dataclass
class Upgrade:
    """A Veo 1080P or 4K version of one result, requested once and ready ``ready_at`` (emulator clock)."""

    kind: UpgradeKind
    index: int
    requested_at: float
    ready_at: float
    cost: int
    #: ``False`` when a ``task_fail`` fault hit the request: KIE then reports the 4K version unavailable.
    succeeds: bool = True
    fail_msg: str = ""
    #: Where KIE POSTs the 4K result (1080P has no callback).
    callback_url: str | None = None
    #: Terminal bookkeeping done (refund of a failure, callback queued).
    settled: bool = False

    @property
    def variant(self) -> str:
        """The media path segment of the upgraded file (``1080p``, ``4k``; ``-<index>`` beyond the first)."""
        return self.kind if self.index == 0 else f"{self.kind}-{self.index}"


@dataclass
class Task:
    """One accepted submission. Its state is never stored: it is computed from the clock and these instants,
    so polling is cheap and time scaling/time travel need no background worker.

    Times are on the emulator clock (epoch seconds, shifted by ``advance_time``).
    """

    task_id: str
    #: What was asked for (an extension's ``aspect_ratio`` already taken from its parent).
    spec: TaskSpec
    created_at: float
    wait_until: float
    queue_until: float
    #: When the task turns terminal (success or fail).
    done_at: float
    succeeds: bool
    fail_code: int | None
    fail_msg: str
    cost: int
    #: Base URL its media links are built on (the URL the client called, or ``public_base_url``).
    base_url: str
    video_id: str
    media_expires_at: float | None
    #: Terminal bookkeeping done (refund, callback queued, concurrency slot freed).
    settled: bool = False
    refunded: bool = False
    #: Veo upgrades by :attr:`Upgrade.variant`.
    upgrades: dict[str, Upgrade] = field(default_factory=dict)

    def state_at(self, now: float) -> TaskPhase:
        """The lifecycle state at emulator time ``now``."""
        if now >= self.done_at:
            return TaskPhase.SUCCESS if self.succeeds else TaskPhase.FAIL
        if now < self.wait_until:
            return TaskPhase.WAIT
        if now < self.queue_until:
            return TaskPhase.QUEUEING
        return TaskPhase.GENERATING

    def media_expired(self, now: float) -> bool:
        """Whether the produced media is gone (KIE's ``expireFlag`` 1)."""
        return self.media_expires_at is not None and now >= self.media_expires_at

    @property
    def is_runway(self) -> bool:
        """Whether this is a Runway generate/extend task (the only kind that can be extended)."""
        return self.spec.kind.family == "runway"

    @property
    def produces_video(self) -> bool:
        """Runway, Aleph and Veo produce a clip; jobs tasks unless their model is an image model (whose
        results are PNGs)."""
        return self.spec.media == "video"

    def media_url(self, variant: str, ext: str) -> str:
        """URL of one of the task's files: ``/media/<id>.<ext>`` for the main one,
        ``/media/<id>/<variant>.<ext>`` for the others (further results ``1``, ``2``...; Veo ``origin``,
        ``full``, ``1080p``, ``4k``)."""
        if not variant:
            return f"{self.base_url}/media/{self.task_id}.{ext}"
        return f"{self.base_url}/media/{self.task_id}/{variant}.{ext}"

    @property
    def video_url(self) -> str:
        """Where the produced MP4 is served."""
        return self.media_url("", "mp4")

    @property
    def image_url_out(self) -> str:
        """Where the produced cover image is served."""
        return self.media_url("", "png")

    def result_urls(self) -> list[str]:
        """Every result in KIE's order: the main file, then ``/1``, ``/2``... (MP4s, or PNGs for image
        models)."""
        ext = "mp4" if self.produces_video else "png"
        return [self.media_url(str(i) if i else "", ext) for i in range(self.spec.outputs)]

    def variant_shape(self, variant: str) -> ClipShape | None:
        """The clip behind ``variant`` (see :meth:`media_url`), or ``None`` when the task has no such file."""
        shape = self.spec.shape
        if variant == "":
            return shape
        if variant.isdigit():
            return shape if 0 < int(variant) < self.spec.outputs else None
        if self.spec.kind.family != "veo":
            return None
        if variant == "origin":
            return shape
        if variant == "full" and self.spec.full_duration_s:
            return replace(shape, duration_s=self.spec.full_duration_s)
        upgrade = self.upgrades.get(variant)
        if upgrade is None:
            return None
        width, height = frame_size(_orientation(shape), "1080p" if upgrade.kind == "1080p" else "4k")
        return replace(shape, width=width, height=height)


@dataclass(frozen=True)
class TaskSnapshot:
    """A read-only view of a task for tests and ``GET /_emulator/tasks``."""

    task_id: str
    kind: str
    state: str
    created_at: float
    done_at: float
    cost: int
    refunded: bool
    parent_task_id: str
    prompt: str
    duration: int
    #: "" for jobs tasks, whose model is ``model``.
    quality: str
    aspect_ratio: str | None
    callback_url: str | None
    fail_code: int | None
    fail_msg: str
    media_expired: bool
    video_url: str
    image_url: str
    model: str
    #: Every result URL, in KIE's order.
    result_urls: tuple[str, ...] = ()
    #: Frame size and length of the main produced clip.
    width: int = 0
    height: int = 0
    clip_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _orientation(shape: ClipShape) -> str:
    """The 16:9-family ratio of a clip's orientation (what KIE's upgrades keep)."""
    return "9:16" if shape.height > shape.width else "16:9"


@dataclass(order=True)
class CallbackJob:
    """A callback waiting to be POSTed; ordered by due time on the emulator clock."""

    due_at: float
    seq: int
    task_id: str = field(compare=False)
    url: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)
    #: Account generation the job belongs to; attempts finishing after a reset are not logged.
    epoch: int = field(compare=False, default=0)
    #: Callback fault rules that hit this callback; ``None`` until decided, when it first falls due.
    faults: tuple[FaultRule, ...] | None = field(compare=False, default=None)
    #: Why this POST exists: ``callback`` (KIE's own, retries included), ``duplicate``, ``replay`` or
    #: ``forged``.
    role: str = field(compare=False, default="callback")
    #: Headers sent verbatim instead of fresh ones (a replay re-sends the old timestamp and signature).
    headers: dict[str, str] | None = field(compare=False, default=None)
    #: Whether a failed POST is retried on KIE's schedule (only KIE's own callback is).
    retry: bool = field(compare=False, default=True)


@dataclass(frozen=True)
class UploadedFile:
    """A file held by the upload host."""

    file_path: str
    file_name: str
    data: bytes
    mime_type: str
    uploaded_at: float
    expires_at: float


@dataclass(frozen=True)
class DownloadLink:
    """A short-lived direct link minted by ``common/download-url``; ``target_path`` is the media path it
    serves."""

    token: str
    target_path: str
    expires_at: float


@dataclass(frozen=True)
class CallbackAttempt:
    """One POST (or refused POST) of a callback."""

    task_id: str
    url: str
    attempt: int
    #: Real wall-clock time of the attempt.
    at: float
    ok: bool
    status_code: int | None
    error: str | None
    payload: dict[str, Any]
    headers: dict[str, str]
    #: Callback faults that shaped this attempt (``callback_drop``, ``callback_duplicate``,
    #: ``callback_delay``, ``callback_replay``, ``callback_signature:<mode>``); empty for a faithful one.
    faults: tuple[str, ...] = ()
    #: Whether a request left the emulator (False for dropped callbacks and hosts outside the allow-list).
    sent: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class EmulatorStats:
    """Counters for assertions such as "exactly one paid submission".

    Attributes:
        submissions_received: Submit calls (generate, extend, aleph) that reached their handler.
        submissions_accepted: Of those, the ones answered with a task id.
        submissions_rejected: Of those, the ones refused (auth, rate limit, validation, credits...).
        rejections_by_code: Refusals keyed by body code (401, 402, 422, 429...).
        paid_submissions: Accepted submissions charged and not refunded (failed tasks are refunded).
        refunded_submissions: Accepted submissions refunded because their task failed.
        accepted_by_kind: Accepted submissions per task kind (generate, extend, aleph).
        credits_balance: Current balance.
        credits_charged: Credits taken by accepted submissions.
        credits_refunded: Credits given back for failed tasks.
        calls_by_endpoint: Every HTTP call by endpoint (media/upload files grouped), faulted ones included.
        faults_injected: Faults applied, by kind.
        rate_limited: Submissions refused by the built-in rate limiter (injected 429s are in faults_injected).
        callbacks_attempted: Callback POSTs tried (retries included).
        callbacks_delivered: Callback POSTs answered with a 2xx.
        callbacks_failed: Callback POSTs that failed, timed out, answered non-2xx or were refused by the
            host filter.
        callbacks_dropped: Callbacks a ``callback_drop`` fault suppressed (never POSTed; not in the counters
            above).
        callbacks_by_fault: Callback POSTs (and suppressions) by the fault that shaped them, e.g.
            ``{"callback_duplicate": 2, "callback_signature:stale": 1}``; a POST shaped by two faults counts
            under both.
        tasks_by_state: Current lifecycle state of every task.
        uploads: Files accepted by the upload host.
        download_links: Links minted by ``common/download-url``.
        upgrades: Accepted Veo upgrade requests by kind (``1080p``, ``4k``); their credits are in the credit
            counters, but they are no submissions (no task of their own).
    """

    submissions_received: int
    submissions_accepted: int
    submissions_rejected: int
    rejections_by_code: dict[int, int]
    paid_submissions: int
    refunded_submissions: int
    accepted_by_kind: dict[str, int]
    credits_balance: int
    credits_charged: int
    credits_refunded: int
    calls_by_endpoint: dict[str, int]
    faults_injected: dict[str, int]
    rate_limited: int
    callbacks_attempted: int
    callbacks_delivered: int
    callbacks_failed: int
    tasks_by_state: dict[str, int]
    uploads: int
    download_links: int
    upgrades: dict[str, int] = field(default_factory=dict)
    callbacks_dropped: int = 0
    callbacks_by_fault: dict[str, int] = field(default_factory=dict)

    @property
    def credits_spent(self) -> int:
        """Net credits consumed (charged minus refunded)."""
        return self.credits_charged - self.credits_refunded

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dict keys become strings; ``credits_spent`` included)."""
        data = asdict(self)
        data["rejections_by_code"] = {str(code): n for code, n in self.rejections_by_code.items()}
        data["credits_spent"] = self.credits_spent
        return data
