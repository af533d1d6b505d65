"""Step 3's credit guard: a free balance check before a paid submit, when a floor is set.

``min_credits`` (on the operator, else the connection's extra) is the balance a submit must leave untouched
by other work: below it the task fails before any paid request, naming the balance and the floor, and is not
retried (waiting does not add credits). ``0`` or unset means no check, and no extra call.

The balance comes from KIE's free ``GET /api/v1/chat/credit``, read at most once per :data:`CREDIT_CHECK_TTL`
seconds for one connection (its id and API base URL) and shared:

* by the threads of one process, in memory: concurrent checks wait for one read rather than each making it;
* by the processes of one worker host, through a small file per connection in a per-user temporary
  directory. Airflow 3 runs every task try in a process forked for it, so an in-memory cache alone would be
  per task, and a campaign of N clips would make N calls. The file holds a number and a time, never the key.

The shared figure can be up to :data:`CREDIT_CHECK_TTL` seconds old: submits that start within that window
are checked against the same balance, so the floor is approximate by what one host pays for in that time.
A balance that cannot be read fails the try with a retryable error: the author asked for the guard, and a
submit that skipped it would spend credits the floor is there to keep.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_kie._compat import AirflowException, AirflowFailException
from airflow_provider_kie.client import KieError

if TYPE_CHECKING:
    import logging

    from airflow_provider_kie.hooks.runway import GenerationHook

__all__ = ["CREDIT_CHECK_TTL", "BalanceCache", "check_credit_floor", "credit_floor"]

#: Seconds a balance read is reused for the same connection, by every task of one worker host.
CREDIT_CHECK_TTL = 30.0

#: What an unset number renders to through a template such as ``"{{ params.min_credits }}"``.
_UNSET_RENDERINGS = ("", "none", "null")


def credit_floor(name: str, value: Any) -> float | None:
    """``value`` (a number, or a template's rendering of one) as a credit floor; ``None`` when unset or 0.

    :raises AirflowFailException: when it is not a non-negative number (no retry: the DAG must change).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in _UNSET_RENDERINGS):
        return None
    try:
        floor = float(value)
    except (TypeError, ValueError):
        floor = -1.0
    if isinstance(value, bool) or not floor >= 0 or floor == float("inf"):
        raise AirflowFailException(f"{name}: must be a non-negative number of credits (got {value!r})")
    return floor or None


def check_credit_floor(
    task: str, operator_floor: Any, hook: GenerationHook, log: logging.Logger | Any
) -> None:
    """Fail before a paid submit when the balance is below the floor; do nothing when no floor is set.

    The operator's ``min_credits`` wins over the connection's (``0`` on the operator turns a connection's
    floor off for that task).

    :raises AirflowFailException: the balance is below the floor (no retry).
    :raises AirflowException: the balance could not be read (retried per the task's ``retries``).
    """
    if operator_floor is not None:
        floor, source = credit_floor("min_credits", operator_floor), "set on the operator"
    else:
        floor, source = hook.settings.min_credits, f"from connection {hook.kie_conn_id!r}"
    if floor is None:
        return
    # The same floor guards both backends; messages name the account the balance is read from.
    service = "Runway API" if hook.conn_type == "runway" else "KIE"
    try:
        balance = SHARED_BALANCES.balance(
            hook.kie_conn_id, hook.settings.base_url, lambda: hook.get_conn().get_credits()
        )
    except KieError as exc:
        # KieError messages are redacted by the client: no key reaches this message.
        raise AirflowException(
            f"{task}: could not read the {service} credit balance to check min_credits {floor:g} ({source}): "
            f"{exc}. Not submitting a paid request without that check"
        ) from exc
    if balance < floor:
        raise AirflowFailException(
            f"{task}: {service} credit balance {balance:g} is below min_credits {floor:g} ({source}); not "
            f"submitting a paid request. Top up the {service} account, or lower min_credits"
        )
    log.info("%s credit balance %g is at or above min_credits %g (%s)", service, balance, floor, source)


class BalanceCache:
    """Balances read within the last ``ttl`` seconds, per connection, shared by threads and processes.

    :param ttl: seconds a read is reused.
    :param directory: where the per-connection files live; ``None`` keeps the cache in memory only.
    :param clock: wall-clock seconds (shared across processes, so not ``time.monotonic``).
    """

    def __init__(
        self,
        ttl: float = CREDIT_CHECK_TTL,
        directory: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self.directory = directory
        self._clock = clock
        self._memory: dict[str, tuple[float, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def balance(self, conn_id: str, base_url: str, read: Callable[[], float]) -> float:
        """The connection's balance: a fresh-enough shared reading, or ``read()`` once (its errors raise)."""
        key = hashlib.sha256(f"{conn_id}\n{base_url}".encode()).hexdigest()[:32]
        with self._lock(key):
            cached = self._fresh(self._memory.get(key))
            if cached is not None:
                return cached
            with self._shared_file(key) as file:
                reading = _read_reading(file)
                if reading is None or self._fresh(reading) is None:
                    reading = (float(read()), self._clock())
                    _write_reading(file, *reading)
                # Kept with the time it was read at, so it ages out here when it does in the file.
                self._memory[key] = reading
                return reading[0]

    def clear(self) -> None:
        """Forget the in-memory readings (the files age out by themselves)."""
        self._memory.clear()

    def _fresh(self, reading: tuple[float, float] | None) -> float | None:
        if reading is None:
            return None
        balance, read_at = reading
        # A reading from the future (a clock stepped back) is stale too.
        return balance if 0 <= self._clock() - read_at < self.ttl else None

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    @contextmanager
    def _shared_file(self, key: str) -> Iterator[IO[str] | None]:
        """The connection's reading file, locked against the other processes of this host; ``None`` when
        there is no usable one (no directory, not POSIX, a directory this user does not own)."""
        handle = _open_locked(self.directory / f"credits-{key}.json") if self.directory else None
        try:
            yield handle
        finally:
            if handle is not None:
                handle.close()  # closing releases the lock


def _open_locked(path: Path) -> IO[str] | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the in-memory cache still works
        return None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner = path.parent.lstat()
        if path.parent.is_symlink() or owner.st_uid != os.getuid():
            return None  # someone else's directory: its readings could be forged to pass the floor
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:
        return None
    return handle


def _read_reading(file: IO[str] | None) -> tuple[float, float] | None:
    if file is None:
        return None
    with suppress(OSError, ValueError, TypeError, KeyError):
        file.seek(0)
        data = json.loads(file.read() or "null")
        return float(data["balance"]), float(data["read_at"])
    return None


def _write_reading(file: IO[str] | None, balance: float, read_at: float) -> None:
    if file is None:
        return
    with suppress(OSError):
        file.seek(0)
        file.truncate()
        file.write(json.dumps({"balance": balance, "read_at": read_at}))
        file.flush()


def _default_directory() -> Path | None:
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - not POSIX
        return None
    return Path(tempfile.gettempdir()) / f"airflow-provider-kie-{getuid()}"


#: The cache every operator of this process uses (and, through its files, every process of this host).
SHARED_BALANCES = BalanceCache(directory=_default_directory())
