"""The sensor's first name, kept importable: DAGs written before the other families landed use it."""

from __future__ import annotations

from airflow_provider_kie.sensors.kie import KieTaskSensor

__all__ = ["RunwayTaskSensor"]


class RunwayTaskSensor(KieTaskSensor):
    """:class:`~airflow_provider_kie.sensors.kie.KieTaskSensor` under its first name (it waits for a task of
    any family, not only Runway's)."""
