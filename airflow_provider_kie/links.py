"""Operator extra links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["KieVideoLink"]

#: States in which a task has handed its wait on (to the triggerer, or to a later poke) and has no clip yet.
_WAITING_STATES = ("deferred", "up_for_reschedule")


class KieVideoLink(BaseOperatorLink):
    """Link to the generated video on KIE (valid while KIE keeps it: 14 days).

    Airflow 3 calls :meth:`get_link` in the worker at the end of every run of the task, deferral included
    (``task_runner.finalize``), and stores the answer under :attr:`xcom_key`; the UI reads that XCom and
    never calls :meth:`get_link`. The URL exists only once the clip is finished
    (:func:`~airflow_provider_kie.lifecycle.completion.finish_clip` pushes it), so an absent link is the
    usual case.
    """

    name = "KIE video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # finalize() passes the running task instance, which knows its state: a deferring task has no clip.
        if getattr(ti_key, "state", None) in _WAITING_STATES:
            return ""
        from airflow.sdk.execution_time.xcom import XCom

        # Not XCom.get_value first: for an XCom that is not there the execution API answers 404, which the
        # Task SDK's client logs at ERROR ("XCom not found", airflow/sdk/api/client.py XComOperations.get)
        # before returning None. get_all reads the task's XComs through the sequence endpoint instead,
        # which answers an empty list.
        get_all = getattr(XCom, "get_all", None)  # not in every Task SDK: then the lookup below logs
        if get_all is not None:
            links = get_all(
                key=self.xcom_key, dag_id=ti_key.dag_id, task_id=ti_key.task_id, run_id=ti_key.run_id
            )
            if not links or not any(links):
                return ""
            if ti_key.map_index is None or ti_key.map_index < 0:
                return str(links[0])
        # A mapped task: get_all holds every map index's link, without the index; ask for this one.
        value = XCom.get_value(ti_key=ti_key, key=self.xcom_key)
        return str(value) if value else ""
