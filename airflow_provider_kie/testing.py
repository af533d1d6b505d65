"""Run your DAGs offline against the KIE emulator: for your own CI, the sample-DAG tests and ``make demo``.

Example::

    from airflow_provider_kie.emulator.server import running_emulator
    from airflow_provider_kie.testing import OfflineAirflow

    with running_emulator() as emu, OfflineAirflow.create(dags_folder="dags", emulator=emu) as airflow:
        conf = {"output_root": "/tmp/clips", "poll_interval": 0.5}
        assert airflow.run_dag("kie_daily_marketing", conf) == "success"
        assert emu.stats().paid_submissions == 4

Each DAG runs through ``dag.test()`` in a fresh Python process (so DAG modules never leak between runs) in
a throwaway ``AIRFLOW_HOME`` on SQLite, with ``kie_default`` pointing at the emulator. Triggers run inline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_kie.emulator.server import RunningEmulator

__all__ = ["DagRunFailed", "OfflineAirflow", "emulator_connection", "is_mp4", "is_png"]

# Runs in the child process: parse the folder, run one DAG, report the run's state on the last line.
_RUN_DAG = """
import json, sys
try:  # Airflow >= 3.2
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.1
    from airflow.models.dagbag import DagBag
bag = DagBag(sys.argv[1])
if bag.import_errors:
    sys.exit(f"DAG import errors: {bag.import_errors}")
run = bag.dags[sys.argv[2]].test(run_conf=json.loads(sys.argv[3]))
print("DAGRUN_STATE=" + str(run.state))
"""


class DagRunFailed(RuntimeError):
    """Setting up Airflow or running the DAG failed; the message points at the log."""


def emulator_connection(emulator: RunningEmulator) -> dict[str, Any]:
    """The ``kie`` connection (JSON form) that points at a running emulator."""
    return {
        "conn_type": "kie",
        "password": emulator.api_key,
        "host": emulator.base_url,
        "extra": {"upload_base_url": emulator.upload_base_url},
    }


def is_mp4(path: str | os.PathLike[str]) -> bool:
    """True when the file starts like an ISO-BMFF/MP4 file (``ftyp`` box)."""
    with open(path, "rb") as handle:
        return handle.read(12)[4:8] == b"ftyp"


def is_png(path: str | os.PathLike[str]) -> bool:
    """True when the file carries the PNG signature."""
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89PNG\r\n\x1a\n"


@dataclass
class OfflineAirflow:
    """A throwaway Airflow home (SQLite) whose ``kie_default`` connection is given; runs DAGs with dag.test().

    :param home: the AIRFLOW_HOME (deleted on exit when this object created it).
    :param dags_folder: the folder to parse.
    :param connection: the ``kie_default`` connection in JSON form.
    :param log: file receiving the Airflow processes' output.
    """

    home: Path
    dags_folder: Path
    connection: dict[str, Any]
    log: Path
    _owns_home: bool = field(default=False, repr=False)

    @classmethod
    def create(
        cls,
        *,
        dags_folder: str | os.PathLike[str],
        emulator: RunningEmulator | None = None,
        connection: dict[str, Any] | None = None,
        log: str | os.PathLike[str] | None = None,
    ) -> OfflineAirflow:
        """A new home with a migrated database; the connection is the emulator's unless one is given."""
        if connection is None:
            if emulator is None:
                raise ValueError("give an emulator or a connection")
            connection = emulator_connection(emulator)
        home = Path(tempfile.mkdtemp(prefix="kie-offline-airflow-"))
        airflow = cls(
            home=home,
            dags_folder=Path(dags_folder).resolve(),
            connection=connection,
            log=Path(log) if log else home / "airflow.log",
            _owns_home=True,
        )
        airflow._run([sys.executable, "-m", "airflow", "db", "migrate"], "airflow db migrate")
        return airflow

    def __enter__(self) -> OfflineAirflow:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._owns_home:
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        """The environment every Airflow process of this home runs with."""
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW_CONN_KIE_DEFAULT": json.dumps(self.connection),
        }

    def _run(self, cmd: list[str], what: str) -> str:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            out.write(f"\n=== {what}\n")
            out.flush()
            # The commands are this module's own (python -m airflow / -c _RUN_DAG), never user input.
            result = subprocess.run(  # noqa: S603
                cmd, env=self.env, stdout=subprocess.PIPE, stderr=out, text=True, check=False
            )
            out.write(result.stdout)
        if result.returncode != 0:
            raise DagRunFailed(f"{what} failed (exit {result.returncode}); see {self.log}")
        return result.stdout

    def run_dag(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Run ``dag_id`` once with ``dag.test(run_conf=conf)``; return the run's final state."""
        stdout = self._run(
            [sys.executable, "-c", _RUN_DAG, str(self.dags_folder), dag_id, json.dumps(conf or {})],
            f"dag.test {dag_id}",
        )
        for line in reversed(stdout.splitlines()):
            if line.startswith("DAGRUN_STATE="):
                return line.split("=", 1)[1]
        raise DagRunFailed(f"dag.test {dag_id} printed no final state; see {self.log}")
