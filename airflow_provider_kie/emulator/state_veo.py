"""Veo's 1080P and 4K versions of a succeeded task, as a part of the emulated account.

KIE's pages (https://docs.kie.ai/veo3-api/get-veo-3-1080-p-video, .../get-veo-3-4k-video,
.../get-veo-3-4k-video-callbacks):

* ``GET get-1080p-video?taskId=&index=`` answers the 1080P file's ``resultUrl`` once ready (1-3 min) and
  "may return a non-200 code" before; the generate page lists that code: 400 "1080P is processing. It should
  be ready in 1-2 minutes. Please check back shortly." The first call starts (and is charged for) the work.
* ``POST get-4k-video {taskId, index, callBackUrl}`` starts the 4K file (5-10 min, extra credits) and answers
  ``{taskId, resultUrls: null, imageUrls: null}``; a repeat answers 422 "4k is processing..." while it runs,
  then 422 "The video has been generated successfully" with the URLs; the callback brings ``{taskId,
  info: {resultUrls, imageUrls}}``, or code 500 "The 4K version of this video is unavailable..." on failure.
* Both refuse with 422 a task that is unknown ("record is null"), not successful ("record status is not
  success"), expired ("Temporarily supports records within 14 days") or has no result at ``index``.

Upgrades belong to their task (no task id of their own): record-info keeps showing the generation.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter
from typing import Literal

from airflow_provider_kie.emulator.config import EmulatorConfig, SubmissionKind
from airflow_provider_kie.emulator.errors import MSG_INSUFFICIENT_CREDITS, KieRefusal, validation_error
from airflow_provider_kie.emulator.faults import FaultPlan
from airflow_provider_kie.emulator.models import CallbackJob, Task, TaskPhase, Upgrade, UpgradeKind
from airflow_provider_kie.emulator.payloads_veo import veo_4k_callback

MSG_VEO_RECORD_NULL = "record is null"
MSG_NOT_SUCCESS = "record status is not success"
MSG_TOO_OLD = "Temporarily supports records within 14 days"
MSG_NO_RESULT = "record result data not exist"
MSG_1080P_PROCESSING = "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."
MSG_4K_PROCESSING = "4k is processing. It should be ready in 5-10 minutes. Please check back shortly."
MSG_4K_DONE = "The video has been generated successfully"
MSG_4K_UNAVAILABLE = "The 4K version of this video is unavailable. Please try a different video."

#: Where a 4K request stands when it is made: new, still running, ready, or failed.
FourKState = Literal["started", "processing", "done", "failed"]


class VeoUpgrades:
    """Mixed into :class:`~.state.EmulatorState`, whose lock, clock, balance and queues it uses."""

    config: EmulatorConfig
    faults: FaultPlan
    _lock: threading.RLock
    _tasks: dict[str, Task]
    _balance: int
    _charged: int
    _refunded: int
    _seq: int
    _epoch: int
    _faults_injected: Counter[str]
    _pending_upgrades: list[tuple[float, int, str, str]]
    _upgrade_counts: Counter[str]
    _callback_queue: list[CallbackJob]

    def now(self) -> float:  # pragma: no cover - provided by EmulatorState
        raise NotImplementedError

    def _settle(self, now: float) -> None:  # pragma: no cover - provided by EmulatorState
        raise NotImplementedError

    def veo_1080p(self, task_id: str, index: int) -> str | None:
        """The 1080P URL of result ``index`` once ready; ``None`` while it is being made (the first call
        starts and pays for it). A task generated at 1080P answers its own result at once."""
        with self._lock:
            now = self.now()
            self._settle(now)
            task = self._upgradable(task_id, index, now)
            if task.spec.resolution == "1080p":
                return task.result_urls()[index]
            upgrade = task.upgrades.get(_variant("1080p", index))
            if upgrade is None:
                upgrade = self._start_upgrade(task, "1080p", index, now, callback_url=None, endpoint=None)
            return task.media_url(upgrade.variant, "mp4") if now >= upgrade.ready_at else None

    def veo_4k(
        self, task_id: str, index: int, *, callback_url: str | None, endpoint: str
    ) -> tuple[FourKState, Task, Upgrade]:
        """Request (or ask again about) the 4K version of result ``index``; a ``task_fail`` fault on
        ``endpoint`` makes it unavailable."""
        with self._lock:
            now = self.now()
            self._settle(now)
            task = self._upgradable(task_id, index, now)
            upgrade = task.upgrades.get(_variant("4k", index))
            if upgrade is None:
                upgrade = self._start_upgrade(
                    task, "4k", index, now, callback_url=callback_url, endpoint=endpoint
                )
                return "started", task, upgrade
            if now < upgrade.ready_at:
                return "processing", task, upgrade
            return ("done" if upgrade.succeeds else "failed"), task, upgrade

    def _upgradable(self, task_id: str, index: int, now: float) -> Task:
        task = self._tasks.get(task_id)
        if task is None or task.spec.kind.family != "veo":
            raise KieRefusal(422, MSG_VEO_RECORD_NULL)
        if task.state_at(now) is not TaskPhase.SUCCESS:
            raise validation_error(MSG_NOT_SUCCESS)
        if task.media_expired(now):
            raise validation_error(MSG_TOO_OLD)
        if not 0 <= index < task.spec.outputs:
            raise validation_error(MSG_NO_RESULT)
        return task

    def _start_upgrade(
        self,
        task: Task,
        kind: UpgradeKind,
        index: int,
        now: float,
        *,
        callback_url: str | None,
        endpoint: str | None,
    ) -> Upgrade:
        config = self.config
        cost = config.cost_of(SubmissionKind.VEO, 0, f"get-{kind}")
        if self._balance < cost:
            raise KieRefusal(402, MSG_INSUFFICIENT_CREDITS)
        delay = config.veo_1080p_s if kind == "1080p" else config.veo_4k_s
        upgrade = Upgrade(kind, index, now, now + config.scaled(delay), cost, callback_url=callback_url)
        if endpoint is not None:
            rule = self.faults.pick_task_fault(endpoint, task.spec.prompt)
            if rule is not None:
                self._faults_injected[rule.kind.value] += 1
                upgrade.succeeds, upgrade.fail_msg = False, rule.fail_msg or MSG_4K_UNAVAILABLE
        self._balance -= cost
        self._charged += cost
        self._upgrade_counts[kind] += 1
        task.upgrades[upgrade.variant] = upgrade
        self._seq += 1
        heapq.heappush(self._pending_upgrades, (upgrade.ready_at, self._seq, task.task_id, upgrade.variant))
        return upgrade

    def _settle_upgrades(self, now: float) -> None:
        """Refund failed upgrades and queue 4K callbacks once their time has come (under the lock)."""
        while self._pending_upgrades and self._pending_upgrades[0][0] <= now:
            _, _, task_id, variant = heapq.heappop(self._pending_upgrades)
            task = self._tasks.get(task_id)
            upgrade = None if task is None else task.upgrades.get(variant)
            if task is None or upgrade is None or upgrade.settled:
                continue
            upgrade.settled = True
            if not upgrade.succeeds:
                self._balance += upgrade.cost
                self._refunded += upgrade.cost
            if upgrade.callback_url:
                self._seq += 1
                heapq.heappush(
                    self._callback_queue,
                    CallbackJob(
                        upgrade.ready_at,
                        self._seq,
                        task.task_id,
                        upgrade.callback_url,
                        veo_4k_callback(task, upgrade),
                        epoch=self._epoch,
                    ),
                )


def _variant(kind: UpgradeKind, index: int) -> str:
    return kind if index == 0 else f"{kind}-{index}"
