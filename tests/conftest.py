"""Test-wide set-up: an isolated, throwaway Airflow home so no test touches a real deployment."""

from __future__ import annotations

import os
import tempfile

# Must run before anything imports airflow: Airflow reads its configuration at import time.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="kie-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
