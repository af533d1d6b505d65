"""Fault injection rules: what can go wrong, where, and on which calls.

A :class:`FaultRule` names a fault kind, the endpoints it applies to (an ``fnmatch`` pattern on the request
path, e.g. ``"/api/v1/runway/*"`` or ``"/media/*"``), and which of the matching calls it hits: calls
``start_call..end_call`` (1-based, inclusive, counted per rule), each with ``probability``. Random decisions
are derived from ``(seed, rule position, call number)`` only, so a run with the same seed and the same
sequence of calls injects exactly the same faults, whatever the thread timing.

Three families of kinds exist:

* response faults (everything but the task and callback kinds) replace or damage the HTTP answer;
  they are applied by :mod:`airflow_provider_kie.emulator.middleware`. With ``when="before"`` the request is
  never processed (nothing is charged); with ``when="after"`` it is processed first (a submission creates and
  charges a task) and only the answer is lost - the case where a client that blindly retries pays twice.
* task faults (``moderation``, ``task_fail``) let a submission be accepted and make the task fail later; their
  calls are counted over accepted submissions only.
* callback faults (``callback_*``) spoil the callbacks the emulator POSTs when a task turns terminal: drop,
  duplicate, delay or replay them, or sign them wrongly. Their ``endpoint`` matches the path of the
  ``callBackUrl`` (the receiver's route, e.g. ``"/kie/callback*"``) and their calls are counted per callback
  (one per terminal task or Veo 4K upgrade with a ``callBackUrl``, when it first falls due; retries and the
  extra POSTs a fault makes are not calls). Several callback rules may hit the same callback (say, delayed and
  wrongly signed); at most one rule of each kind applies.
"""

from __future__ import annotations

import enum
import fnmatch
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


class FaultKind(str, enum.Enum):
    """The faults the emulator can inject."""

    #: HTTP 429, body code 429 and a ``Retry-After`` header (``retry_after_s``).
    RATE_LIMITED = "rate_limited"
    #: HTTP 455, body code 455: KIE's maintenance answer.
    MAINTENANCE = "maintenance"
    #: HTTP ``status`` (default 500) with the same body code.
    SERVER_ERROR = "server_error"
    #: HTTP 200 with body code ``code`` (default 500) and ``msg``: KIE's favourite way to fail.
    BODY_ERROR = "body_error"
    #: Answer only after ``delay_s`` real seconds (choose more than the client's timeout).
    DELAY = "delay"
    #: Close the connection without sending any response.
    DROP_CONNECTION = "drop_connection"
    #: HTTP 200 with a JSON body cut in the middle.
    MALFORMED_JSON = "malformed_json"
    #: Announce the full ``Content-Length`` but send only ``fraction`` of the body, then close.
    TRUNCATE = "truncate"
    #: Submissions whose prompt contains one of ``words`` (all prompts when empty) fail KIE's content
    #: moderation.
    MODERATION = "moderation"
    #: Accepted submissions fail at the end of generation with ``fail_code`` / ``fail_msg``.
    TASK_FAIL = "task_fail"
    #: The callback is never POSTed, and never retried: KIE gave up after its last retry.
    CALLBACK_DROP = "callback_drop"
    #: The callback is POSTed ``copies`` times at once (each copy freshly signed; only the first is retried).
    CALLBACK_DUPLICATE = "callback_duplicate"
    #: The callback is POSTed ``after_s`` KIE seconds (scaled) after the task turned terminal.
    CALLBACK_DELAY = "callback_delay"
    #: ``after_s`` KIE seconds (scaled) after its first POST, the callback is POSTed again with the very same
    #: body and headers (old timestamp and signature): a captured request replayed.
    CALLBACK_REPLAY = "callback_replay"
    #: The callback is sent with a bad signature (``signature``: see :class:`SignatureFault`), on every
    #: attempt.
    CALLBACK_SIGNATURE = "callback_signature"


#: Kinds applied to tasks rather than to HTTP answers.
TASK_FAULT_KINDS = frozenset({FaultKind.MODERATION, FaultKind.TASK_FAIL})
#: Kinds applied to the callbacks the emulator sends.
CALLBACK_FAULT_KINDS = frozenset(
    {
        FaultKind.CALLBACK_DROP,
        FaultKind.CALLBACK_DUPLICATE,
        FaultKind.CALLBACK_DELAY,
        FaultKind.CALLBACK_REPLAY,
        FaultKind.CALLBACK_SIGNATURE,
    }
)


class SignatureFault(str, enum.Enum):
    """How ``callback_signature`` spoils a callback's ``X-Webhook-Timestamp`` / ``X-Webhook-Signature``.

    Each mode sends a request a receiver holding the right key must refuse; all but ``unsigned`` are sent
    even when the account has no webhook key (a forger does not need KIE's consent).
    """

    #: A fresh timestamp signed with another key.
    WRONG_KEY = "wrong_key"
    #: A genuine timestamp/signature pair of another task (the last other task whose callback was sent,
    #: else a made-up task id): a signature copied from one callback onto another.
    OTHER_TASK = "other_task"
    #: Signed with the right key, but the timestamp is :data:`SKEWED_TIMESTAMP_S` in the past.
    STALE = "stale"
    #: Signed with the right key, but the timestamp is :data:`SKEWED_TIMESTAMP_S` in the future.
    FUTURE = "future"
    #: No signature headers at all, although the account has a key.
    UNSIGNED = "unsigned"


#: Real seconds by which ``stale`` / ``future`` signatures miss the present: far beyond any sane replay
#: window (the provider's is 5 minutes).
SKEWED_TIMESTAMP_S = 3600


_RESPONSE, _TASK, _CALLBACK = "response", "task", "callback"


def _family_of(kind: FaultKind) -> str:
    """Which calls a kind's rules count: HTTP requests, accepted submissions or callbacks."""
    if kind in TASK_FAULT_KINDS:
        return _TASK
    if kind in CALLBACK_FAULT_KINDS:
        return _CALLBACK
    return _RESPONSE


class FaultTiming(str, enum.Enum):
    """Whether a response fault strikes before or after the request is processed."""

    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True, init=False)
class FaultRule:
    """One fault to inject. Only the fields relevant to ``kind`` are read.

    Attributes:
        kind: What goes wrong (:class:`FaultKind` or its string value).
        endpoint: ``fnmatch`` pattern matched against the request path (query string excluded). Upload-host
            paths start with ``/upload-host``; media paths with ``/media``. Admin paths (``/_emulator``) are
            never faulted. Callback kinds match the path of the ``callBackUrl`` instead.
        method: HTTP method to match (``"GET"``, ``"POST"``...); ``None`` matches every method. Callbacks are
            POSTs.
        probability: Chance that an eligible call is hit (1.0 = always).
        start_call: First matching call (1-based) the rule may hit.
        end_call: Last matching call (inclusive) the rule may hit; ``None`` = no end. ``start_call=1,
            end_call=2`` means "the first two calls".
        every: Only every ``every``-th call of the window may be hit (calls ``start_call``, ``start_call +
            every``...): ``every=3`` hits exactly a third of the calls, with no randomness.
        when: ``"before"`` (request not processed) or ``"after"`` (processed, then the answer is replaced).
        retry_after_s: ``Retry-After`` of ``rate_limited``.
        status: HTTP status (and body code) of ``server_error``.
        code: Body code of ``body_error``.
        msg: Message of ``server_error`` / ``body_error`` (a KIE-like default otherwise).
        delay_s: Real seconds of ``delay``.
        fraction: Share of the body sent by ``truncate`` (0 <= fraction < 1).
        words: Case-insensitive words that make ``moderation`` hit; empty = every prompt.
        fail_code: ``failCode`` / ``errorCode`` of ``task_fail``.
        fail_msg: ``failMsg`` / ``errorMessage`` of ``task_fail``.
        copies: POSTs of each callback hit by ``callback_duplicate`` (>= 2; the original included).
        after_s: KIE seconds (scaled by ``time_scale``, moved by ``advance_time``) of ``callback_delay``
            (after the task turned terminal) and ``callback_replay`` (after the first POST).
        signature: The :class:`SignatureFault` of ``callback_signature``.
    """

    kind: FaultKind
    endpoint: str
    method: str | None
    probability: float
    start_call: int
    end_call: int | None
    every: int
    when: FaultTiming
    retry_after_s: int
    status: int
    code: int
    msg: str | None
    delay_s: float
    fraction: float
    words: tuple[str, ...]
    fail_code: int
    fail_msg: str | None
    copies: int
    after_s: float
    signature: SignatureFault

    # A hand-written __init__ so callers may pass plain strings ("delay", "after") and any iterable of words,
    # while the attributes stay precisely typed.
    def __init__(
        self,
        kind: FaultKind | str,
        endpoint: str = "*",
        method: str | None = None,
        probability: float = 1.0,
        start_call: int = 1,
        end_call: int | None = None,
        every: int = 1,
        when: FaultTiming | str = FaultTiming.BEFORE,
        retry_after_s: int = 1,
        status: int = 500,
        code: int = 500,
        msg: str | None = None,
        delay_s: float = 5.0,
        fraction: float = 0.5,
        words: Iterable[str] = (),
        fail_code: int = 500,
        fail_msg: str | None = None,
        copies: int = 2,
        after_s: float = 60.0,
        signature: SignatureFault | str = SignatureFault.WRONG_KEY,
    ) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if start_call < 1 or (end_call is not None and end_call < start_call):
            raise ValueError("need 1 <= start_call <= end_call")
        if not 0.0 <= fraction < 1.0:
            raise ValueError("fraction must be within [0, 1)")
        if delay_s < 0 or retry_after_s < 0:
            raise ValueError("delay_s and retry_after_s must be >= 0")
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        if every < 1:
            raise ValueError("every must be >= 1")
        if copies < 2:
            raise ValueError("copies must be >= 2 (the original and at least one duplicate)")
        if after_s < 0:
            raise ValueError("after_s must be >= 0")
        values = {
            "kind": FaultKind(kind),
            "endpoint": endpoint,
            "method": None if method is None else method.upper(),
            "probability": probability,
            "start_call": start_call,
            "end_call": end_call,
            "every": every,
            "when": FaultTiming(when),
            "retry_after_s": retry_after_s,
            "status": status,
            "code": code,
            "msg": msg,
            "delay_s": delay_s,
            "fraction": fraction,
            "words": tuple(word.lower() for word in words),
            "fail_code": fail_code,
            "fail_msg": fail_msg,
            "copies": copies,
            "after_s": after_s,
            "signature": SignatureFault(signature),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request to ``path`` with ``method`` counts as a call of this rule."""
        if self.method is not None and self.method != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.endpoint)

    def prompt_matches(self, prompt: str) -> bool:
        """Whether ``moderation`` objects to ``prompt``."""
        lowered = prompt.lower()
        return not self.words or any(word in lowered for word in self.words)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, accepted back by :meth:`from_dict` and by ``POST /_emulator/faults``."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["when"] = self.when.value
        data["signature"] = self.signature.value
        data["words"] = list(self.words)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from JSON; unknown keys are an error so typos do not silently disable a fault."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("fault rule needs a 'kind'")
        return cls(**data)


class FaultPlan:
    """The active rules and their call counters. Thread-safe: the server and tests change it concurrently."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rules: list[FaultRule] = list(rules)
        self._calls: list[int] = [0] * len(self._rules)

    @property
    def seed(self) -> int:
        """Seed of the random fault decisions."""
        return self._seed

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The active rules, in evaluation order."""
        with self._lock:
            return tuple(self._rules)

    def replace(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        """Activate ``rules`` instead of the current ones; call counters restart at zero."""
        with self._lock:
            self._rules = list(rules)
            self._calls = [0] * len(self._rules)
            if seed is not None:
                self._seed = seed

    def add(self, rule: FaultRule) -> None:
        """Append one rule (evaluated after the existing ones); its counter starts at zero."""
        with self._lock:
            self._rules.append(rule)
            self._calls.append(0)

    def pick_response_fault(self, method: str, path: str) -> FaultRule | None:
        """Count this call against every matching response rule; return the first one that hits."""
        hits = self._pick(_RESPONSE, method, path, prompt=None)
        return hits[0] if hits else None

    def pick_task_fault(self, path: str, prompt: str) -> FaultRule | None:
        """Count one accepted submission against the matching task rules; return the first one that hits."""
        hits = self._pick(_TASK, "POST", path, prompt=prompt)
        return hits[0] if hits else None

    def pick_callback_faults(self, path: str) -> tuple[FaultRule, ...]:
        """Count one callback (POSTed to a URL whose path is ``path``) against the matching callback rules;
        return the rules that hit it, the first hit of each kind only, in rule order."""
        return self._pick(_CALLBACK, "POST", path, prompt=None)

    def _pick(self, family: str, method: str, path: str, prompt: str | None) -> tuple[FaultRule, ...]:
        # Response and task faults apply one rule per call; callback faults combine (one rule per kind).
        combine = family == _CALLBACK
        chosen: list[FaultRule] = []
        with self._lock:
            for index, rule in enumerate(self._rules):
                if _family_of(rule.kind) != family or not rule.matches(method, path):
                    continue
                # Every matching rule counts the call, hit or not, so one rule's decisions never depend on
                # whether another rule fired first.
                self._calls[index] += 1
                call = self._calls[index]
                if chosen and not combine:
                    continue
                if combine and any(other.kind is rule.kind for other in chosen):
                    continue
                if not self._hits(index, rule, call):
                    continue
                if (
                    prompt is not None
                    and rule.kind is FaultKind.MODERATION
                    and not rule.prompt_matches(prompt)
                ):
                    continue
                chosen.append(rule)
        return tuple(chosen)

    def _hits(self, index: int, rule: FaultRule, call: int) -> bool:
        if call < rule.start_call or (rule.end_call is not None and call > rule.end_call):
            return False
        if (call - rule.start_call) % rule.every:
            return False
        if rule.probability >= 1.0:
            return True
        if rule.probability <= 0.0:
            return False
        # A fresh generator per decision, seeded by a string (hashed with SHA-512 by `random`, so stable
        # across processes and PYTHONHASHSEED): the decision for call n never depends on other calls or
        # threads.
        rng = random.Random(f"{self._seed}:{index}:{call}")  # noqa: S311 - reproducible faults, not secrets
        return rng.random() < rule.probability
