"""Benchmark 6: import cost of the operators module, and the parse time of each sample DAG.

Import cost: each sample is a fresh interpreter that times ``import airflow.sdk`` (the baseline), then, in the
same process, ``import airflow_provider_kie.operators.runway`` (what the operators add on top). Medians over
the samples. The increment is measured inside one process because ``import airflow.sdk`` alone takes seconds
on this machine and varies by hundreds of milliseconds between processes, which would drown a difference of
two separate-process medians. Interpreter start-up is outside the timed region. All samples share one
AIRFLOW_HOME, initialised by a warm-up run. A ``-X importtime`` run then names what the operators add.

DAG parse time: for each file in ``dags/``, a fresh interpreter with Airflow imported builds a ``DagBag`` of
that one file - "cold" (the provider is imported by the file, as a dag processor without pre-import pays) -
then builds it again in the same process - "warm" (modules already imported, as with Airflow's default
``[dag_processor] parsing_pre_import_modules = True``). Medians over the repeats.

    python benchmarks/bench_import_cost.py             # 15 import samples each, 5 parses per DAG (~1.5 min)
    python benchmarks/bench_import_cost.py --quick     # 5 and 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import benchkit

TARGET_MS = 50.0
OPERATORS = "airflow_provider_kie.operators.runway"

_TIME_IMPORT = """
import sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
import airflow_provider_kie.operators.runway
t2 = time.perf_counter()
print("IMPORT_S", t1 - t0, t2 - t1)
"""

_PARSE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
t0 = time.perf_counter()
bag = DagBag(path)
t1 = time.perf_counter()
again = DagBag(path)
t2 = time.perf_counter()
print("PARSE " + json.dumps({"cold": t1 - t0, "warm": t2 - t1, "dags": sorted(bag.dag_ids),
      "errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}}))
"""

_IMPORTTIME = """
import sys
import airflow.sdk
sys.stderr.write("----PROVIDER----\\n")
sys.stderr.flush()
import airflow_provider_kie.operators.runway
"""


_HOME = benchkit.airflow_env()["AIRFLOW_HOME"]


def _env() -> dict[str, str]:
    return {**os.environ, **benchkit.airflow_env(home=_HOME), "PYTHONPATH": str(benchkit.ROOT)}


def _run(code: str, *args: str, extra: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [benchkit.PYTHON, *(extra or []), "-c", code, *args]
    done = subprocess.run(
        command, env=_env(), capture_output=True, text=True, timeout=120, cwd=str(benchkit.ROOT)
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise RuntimeError(f"child failed: {args}")
    return done


def time_imports() -> tuple[float, float]:
    """(seconds to import airflow.sdk, seconds the operators module adds after it) in a fresh process."""
    out = _run(_TIME_IMPORT).stdout
    _, sdk, added = next(line for line in out.splitlines() if line.startswith("IMPORT_S")).split()
    return float(sdk), float(added)


def parse_dag(path: Path) -> dict[str, Any]:
    out = _run(_PARSE, str(path)).stdout
    result: dict[str, Any] = json.loads(next(x for x in out.splitlines() if x.startswith("PARSE "))[6:])
    return result


def provider_importtime() -> tuple[list[tuple[str, float]], list[tuple[str, float]], float]:
    """What importing the operators adds after airflow.sdk: (top packages by self time, top provider
    modules by cumulative time, total in ms)."""
    err = _run(_IMPORTTIME, extra=["-X", "importtime"]).stderr
    after = err.split("----PROVIDER----", 1)[1]
    by_package: dict[str, float] = defaultdict(float)
    provider_modules: list[tuple[str, float]] = []
    total = 0.0
    for line in after.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[len("import time:") :].split("|"))
        module = name.strip()
        by_package[module.split(".")[0]] += int(self_us) / 1000
        total += int(self_us) / 1000
        if module.startswith("airflow_provider_kie"):
            provider_modules.append((module, int(cumulative_us) / 1000))
    top_packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:8]
    top_modules = sorted(provider_modules, key=lambda kv: -kv[1])[:6]
    return top_packages, top_modules, total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15, help="fresh interpreters per import kind")
    parser.add_argument("--parses", type=int, default=5, help="fresh interpreters per DAG file")
    parser.add_argument("--quick", action="store_true", help="5 import samples, 2 parses per DAG")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.parses = 5, 2
    print(benchkit.machine_line())
    print(f"import cost: {args.repeats} fresh interpreters; {args.parses} fresh interpreters per DAG file")

    time_imports()  # initialise AIRFLOW_HOME, warm the page cache and .pyc files before sampling
    sdk: list[float] = []
    added: list[float] = []
    for _ in range(args.repeats):
        base, extra = time_imports()
        sdk.append(base)
        added.append(extra)
    sdk_ms, added_ms = benchkit.median(sdk) * 1000, benchkit.median(added) * 1000
    benchkit.table(
        "Import cost (fresh interpreters; ms; interpreter start-up excluded)",
        ["import", "median ms", "p10 ms", "p90 ms", "ratio to airflow.sdk"],
        [
            [
                "airflow.sdk (baseline)",
                sdk_ms,
                benchkit.percentile(sdk, 10) * 1000,
                benchkit.percentile(sdk, 90) * 1000,
                1.0,
            ],
            [
                f"+ {OPERATORS} (after airflow.sdk)",
                added_ms,
                benchkit.percentile(added, 10) * 1000,
                benchkit.percentile(added, 90) * 1000,
                (sdk_ms + added_ms) / sdk_ms,
            ],
        ],
    )
    packages, modules, total = provider_importtime()
    benchkit.table(
        "What the operators import adds after airflow.sdk (-X importtime, one run, self time; "
        f"{total:.0f} ms in all)",
        ["top-level package", "self ms"],
        packages,
    )
    benchkit.table(
        "Provider modules by cumulative import time (same run)", ["module", "cumulative ms"], modules
    )

    rows = []
    for path in sorted((benchkit.ROOT / "dags").glob("*.py")):
        samples = [parse_dag(path) for _ in range(args.parses)]
        errors = samples[0]["errors"]
        rows.append(
            [
                path.name,
                ",".join(samples[0]["dags"]) or "-",
                benchkit.median([s["cold"] for s in samples]) * 1000,
                benchkit.median([s["warm"] for s in samples]) * 1000,
                "none" if not errors else json.dumps(errors)[:120],
            ]
        )
    benchkit.table(
        "DAG parse time (DagBag of one file; median ms; cold = provider imported by the file, warm = again "
        "in the same process)",
        ["file", "dag ids", "cold ms", "warm ms", "import errors"],
        rows,
    )
    benchkit.table(
        "Target: operator import <= 50 ms over airflow.sdk",
        ["airflow.sdk ms", "added by the operators ms", "target"],
        [[sdk_ms, added_ms, benchkit.verdict(added_ms <= TARGET_MS)]],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
