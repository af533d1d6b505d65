"""Configuration of the KIE emulator.

Durations named ``*_s`` are in *KIE seconds*: the time the real KIE would take. The emulator multiplies every
one of them by :attr:`EmulatorConfig.time_scale`, so one config describes KIE faithfully and a single number
makes it fast enough for tests. The rate-limit window, callback timeouts and injected fault delays are in
*real* seconds, because they exist to exercise the client's own clocks (its backoff and its timeouts), which
are never scaled.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from airflow_provider_kie.emulator.faults import FaultRule

#: Port of ``python -m airflow_provider_kie.emulator`` when ``--port`` is not given. Chosen to sit clear of
#: Airflow's own ports (8080 api-server, 8793/8794 log servers).
DEFAULT_PORT = 8089
DEFAULT_HOST = "127.0.0.1"
#: Path prefix under which the same server plays KIE's separate file-upload host.
UPLOAD_HOST_PREFIX = "/upload-host"

#: A record namespace: KIE looks task ids up per family, each at its own record endpoint.
Family = Literal["runway", "aleph", "jobs"]


class SubmissionKind(str, enum.Enum):
    """What a submission asked for; the first element of a cost-table key.

    Not ``TaskKind``: the client's ``records.TaskKind`` is the API family (runway, aleph, jobs) that decides
    the status endpoint, whereas these are the priced submissions (generate and extend are both Runway);
    their family is :attr:`family`.
    """

    GENERATE = "generate"
    EXTEND = "extend"
    ALEPH = "aleph"
    #: The unified Market API (``/api/v1/jobs``), for KIE's other model families.
    JOBS = "jobs"

    @property
    def family(self) -> Family:
        """Record namespace: ``runway`` (generate and extend), ``aleph`` or ``jobs``. KIE looks task ids up
        per family, so an id is unknown to the other families' record endpoints."""
        return _FAMILIES[self]


_FAMILIES: Mapping[SubmissionKind, Family] = {
    SubmissionKind.GENERATE: "runway",
    SubmissionKind.EXTEND: "runway",
    SubmissionKind.ALEPH: "aleph",
    SubmissionKind.JOBS: "jobs",
}

#: Cost-table key: (kind, clip duration in seconds, price tier). The price tier is the video quality for
#: Runway and Aleph, and the model name for jobs tasks, which use ``(JOBS, 0, model)``, falling back to
#: ``(JOBS, 0, "*")``.
CostKey = tuple[SubmissionKind, int, str]

#: Illustrative defaults, not KIE's price list (which changes and differs per plan): they only need to be
#: distinct and non-zero so tests can tell the kinds apart. Extensions add 5 s; Aleph outputs at most 5 s and
#: takes no quality, so it is keyed as ``(ALEPH, 5, "720p")``.
DEFAULT_COSTS: Mapping[CostKey, int] = {
    (SubmissionKind.GENERATE, 5, "720p"): 12,
    (SubmissionKind.GENERATE, 10, "720p"): 30,
    (SubmissionKind.GENERATE, 5, "1080p"): 30,
    (SubmissionKind.EXTEND, 5, "720p"): 12,
    (SubmissionKind.EXTEND, 5, "1080p"): 30,
    (SubmissionKind.ALEPH, 5, "720p"): 60,
    (SubmissionKind.JOBS, 0, "*"): 20,
}

#: Hosts the emulator POSTs callbacks to by default: loopback only, so a ``callBackUrl`` copied from KIE's
#: docs (``https://your-app.com/...``) never leaves the machine.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class PhaseTimeline:
    """How long a task stays in each non-terminal state, in KIE seconds.

    A task is ``wait`` for ``wait_s``, then ``queueing`` for ``queueing_s``, then ``generating`` for
    ``generating_s``, then terminal. Aleph has no visible phases (only ``successFlag``), so only the total
    matters.
    """

    wait_s: float = 5.0
    queueing_s: float = 10.0
    generating_s: float = 60.0

    def __post_init__(self) -> None:
        if min(self.wait_s, self.queueing_s, self.generating_s) < 0:
            raise ValueError("phase durations must be >= 0")

    @property
    def total_s(self) -> float:
        """KIE seconds from submission to the terminal state."""
        return self.wait_s + self.queueing_s + self.generating_s


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one emulator run. Immutable: runtime knobs (faults, credits, clock) live on the
    state.

    Attributes:
        api_keys: Accepted bearer keys. ``None`` accepts any non-empty key, so requests copied from KIE's
            quickstart (``Bearer YOUR_API_KEY``) work unchanged.
        initial_credits: Credit balance at start and after a reset.
        costs: Credits charged per accepted submission, keyed by :data:`CostKey`
            ``(SubmissionKind, duration, price tier)``. Keys missing here fall back to :data:`DEFAULT_COSTS`,
            then to 0.
        timeline: Phase durations of Runway generate/extend and jobs tasks (KIE seconds).
        aleph_timeline: Phase durations of Aleph tasks (KIE seconds); KIE's Aleph typically takes minutes.
        time_scale: Multiplier applied to every KIE-seconds duration. ``0.005`` turns a 75 s generation into
            ~0.4 s; ``1.0`` is real time.
        rate_limit: Submissions (generate, extend, aleph) allowed per ``rate_window_s``; more are
            answered 429.
        rate_window_s: Sliding window of the rate limit, in *real* seconds (never scaled).
        concurrency_cap: Unfinished tasks an account may have; a task submitted at the cap fails at once with
            "Reached the limit for concurrent generations" (and its credits are refunded).
        media_retention_s: How long produced media stays downloadable (KIE: 14 days); then ``expireFlag`` is 1
            and the media URLs answer 404.
        download_link_ttl_s: Lifetime of links made by ``common/download-url`` (KIE: 20 min); then 403.
        upload_retention_s: Lifetime of files on the upload host (KIE: 24 h to 3 days; 24 h here).
        webhook_hmac_key: When set, callbacks carry ``X-Webhook-Timestamp`` and ``X-Webhook-Signature``.
        callback_timeout_s: Real-seconds timeout of one callback POST (KIE: 15 s).
        callback_retry_delays_s: Delays (KIE seconds) before retrying a failed callback (KIE: 1, 5, 15 min).
        callback_allowed_hosts: Hosts callbacks may be POSTed to; ``None`` allows every host. Attempts to
            other hosts are recorded as failed without any network traffic, keeping the emulator offline.
        public_base_url: Base URL written into media links and upload answers. ``None`` uses the URL the
            client called, which is right unless the emulator sits behind a proxy or a container name.
        max_upload_bytes: Largest file the upload host accepts.
        seed: Seed of every random fault decision, so a run with the same seed and call sequence injects the
            same faults.
        faults: Fault rules active at start and after a reset.
    """

    api_keys: frozenset[str] | None = None
    initial_credits: int = 10_000
    costs: Mapping[CostKey, int] = field(default_factory=lambda: dict(DEFAULT_COSTS))
    timeline: PhaseTimeline = PhaseTimeline()
    aleph_timeline: PhaseTimeline = PhaseTimeline(wait_s=5.0, queueing_s=10.0, generating_s=120.0)
    time_scale: float = 1.0
    rate_limit: int = 20
    rate_window_s: float = 10.0
    concurrency_cap: int = 10
    media_retention_s: float = 14 * 24 * 3600.0
    download_link_ttl_s: float = 20 * 60.0
    upload_retention_s: float = 24 * 3600.0
    webhook_hmac_key: str | None = None
    callback_timeout_s: float = 5.0
    callback_retry_delays_s: tuple[float, ...] = (60.0, 300.0, 900.0)
    callback_allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS
    public_base_url: str | None = None
    max_upload_bytes: int = 100 * 1024 * 1024
    seed: int = 0
    faults: Sequence[FaultRule] = ()

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.rate_limit < 1 or self.rate_window_s <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_window_s > 0")
        if self.concurrency_cap < 1:
            raise ValueError("concurrency_cap must be >= 1")
        if self.initial_credits < 0:
            raise ValueError("initial_credits must be >= 0")
        if self.api_keys is not None and not isinstance(self.api_keys, frozenset):
            # Accept any iterable of keys but store an immutable set, so the frozen config stays
            # hashable-safe.
            object.__setattr__(self, "api_keys", frozenset(self.api_keys))
        if self.public_base_url is not None:
            object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))

    def scaled(self, kie_seconds: float) -> float:
        """Real seconds that ``kie_seconds`` of KIE time take in this run."""
        return kie_seconds * self.time_scale

    def cost_of(self, kind: SubmissionKind, duration: int, price_tier: str) -> int:
        """Credits one accepted submission of this shape costs; ``price_tier`` is the quality, or a jobs
        model name."""
        keys = [(kind, duration, price_tier)]
        if kind is SubmissionKind.JOBS:
            keys.append((kind, 0, "*"))  # any model without a price of its own
        for table in (self.costs, DEFAULT_COSTS):
            for key in keys:
                if key in table:
                    return table[key]
        return 0

    def timeline_for(self, kind: SubmissionKind) -> PhaseTimeline:
        """Phase durations used for tasks of ``kind``."""
        return self.aleph_timeline if kind is SubmissionKind.ALEPH else self.timeline
