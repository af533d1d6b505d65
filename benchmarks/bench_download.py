"""Benchmark 5: downloading a 1 GiB clip through ``store_url``, against ``curl -o`` to the same disk.

The emulator (in its own process) serves ``/media/synthetic/<n>.mp4``: ``n`` deterministic bytes streamed with
Content-Length. Each ``store_url`` run happens in a fresh interpreter that first downloads 1 MiB (so imports,
the SSL context and the first connection are paid before measuring), resets its peak-RSS counter
(``/proc/self/clear_refs``), then stores the 1 GiB body; RSS growth is the peak RSS during the download minus
the RSS before it. ``curl -s -o`` writes the same body to the same directory. Runs are interleaved (curl,
store_url, previous store_url, curl, ...) and the medians are compared. Each file is deleted after its
run. The emulator's CPU use is reported too: when it sits near one core, both clients are limited by the
server, not by themselves. A third client is the previous version of ``store_url``, for reference: it
re-assembled network reads into 1 MiB chunks (``iter_bytes(1 MiB)``); the product now
writes each read as it arrives.

    python benchmarks/bench_download.py            # 1 GiB, 4 runs each (~1 min)
    python benchmarks/bench_download.py --quick    # 256 MiB, 2 runs each
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchkit

TARGET_RSS_MIB = 64.0
TARGET_THROUGHPUT_RATIO = 0.8

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
import benchkit
import httpx
from airflow_provider_kie.client.storage import store_url
url, warm_url, dest = sys.argv[1], sys.argv[2], sys.argv[3]
if sys.argv[5] == "rechunked":
    # The previous version: network reads re-assembled into 1 MiB chunks before each write.
    _iter_bytes = httpx.Response.iter_bytes
    httpx.Response.iter_bytes = lambda self, chunk_size=None: _iter_bytes(self, 1024 * 1024)
store_url(warm_url, dest)
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset VmHWM to the current RSS
rss0 = benchkit.rss_bytes()
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
stored = store_url(url, dest)
elapsed = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
print("RESULT " + json.dumps({
    "seconds": elapsed, "size": stored.size, "rss0": rss0, "peak": benchkit.peak_rss_bytes(),
    "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
    "faults": r1.ru_minflt - r0.ru_minflt}))
"""


def run_store_url(url: str, warm_url: str, dest: Path, mode: str = "as-is") -> dict[str, Any]:
    env = {**os.environ, **benchkit.airflow_env(), "PYTHONPATH": str(benchkit.ROOT)}
    done = subprocess.run(
        [benchkit.PYTHON, "-c", _CHILD, url, warm_url, str(dest), str(Path(__file__).parent), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-3000:])
        raise RuntimeError("store_url child failed")
    result: dict[str, Any] = json.loads(lines[-1][7:])
    return result


def run_curl(url: str, dest: Path) -> dict[str, Any]:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", str(dest), url], check=True, timeout=600)
    elapsed = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": elapsed,
        "size": dest.stat().st_size,
        "user": r1.ru_utime - r0.ru_utime,
        "sys": r1.ru_stime - r0.ru_stime,
        "faults": r1.ru_minflt - r0.ru_minflt,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="body size in MiB (default 1 GiB)")
    parser.add_argument("--runs", type=int, default=4, help="runs of each client")
    parser.add_argument("--dir", default=None, help="directory to write into (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="256 MiB, 2 runs each")
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.runs = 256, 2
    if shutil.which("curl") is None:
        sys.exit("curl is needed for the baseline")
    size = args.size_mib * benchkit.MIB
    print(benchkit.machine_line())
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="kie-bench-download-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"download: {args.size_mib} MiB synthetic body, {args.runs} runs each, writing to {workdir}")
    clients = {
        "curl -o (baseline)": [],
        "store_url": [],
        "store_url, 1 MiB re-chunked reads (previous version)": [],
    }
    runs: dict[str, list[dict[str, Any]]] = clients
    try:
        with benchkit.emulator_process() as emu:
            url = f"{emu.base_url}/media/synthetic/{size}.mp4"
            warm_url = f"{emu.base_url}/media/synthetic/{benchkit.MIB}.mp4"
            for i in range(args.runs):
                for name in runs:
                    dest = workdir / f"run-{i}.mp4"
                    cpu = emu.cpu_seconds()
                    if name.startswith("curl"):
                        run = run_curl(url, dest)
                    else:
                        run = run_store_url(
                            url, warm_url, dest, "rechunked" if "re-chunked" in name else "as-is"
                        )
                    run["emulator_cpu"] = emu.cpu_seconds() - cpu
                    dest.unlink()
                    runs[name].append(run)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    for run in (r for rs in runs.values() for r in rs):
        if run["size"] != size:
            raise RuntimeError(f"a download stored {run['size']} bytes, not {size}")

    def mib_s(run: dict[str, Any]) -> float:
        return float(run["size"]) / benchkit.MIB / float(run["seconds"])

    def per_mib_ms(run: dict[str, Any], key: str) -> float:
        return float(run[key]) * 1000 / (float(run["size"]) / benchkit.MIB)

    rows = []
    for name, rs in runs.items():
        rows.append(
            [
                name,
                benchkit.median([mib_s(r) for r in rs]),
                ", ".join(f"{mib_s(r):.0f}" for r in rs),
                benchkit.median([per_mib_ms(r, "user") for r in rs]),
                benchkit.median([per_mib_ms(r, "sys") for r in rs]),
                benchkit.median([r["faults"] / (r["size"] / benchkit.MIB) for r in rs]),
                benchkit.median([r["emulator_cpu"] / r["seconds"] for r in rs]),
                "-" if "peak" not in rs[0] else max((r["peak"] - r["rss0"]) / benchkit.MIB for r in rs),
            ]
        )
    benchkit.table(
        f"Download of {args.size_mib} MiB over loopback (runs interleaved; CPU of the client per MiB, "
        "emulator CPU in cores)",
        [
            "client",
            "median MiB/s",
            "runs MiB/s",
            "user ms/MiB",
            "sys ms/MiB",
            "page faults/MiB",
            "emulator CPU",
            "RSS growth MiB",
        ],
        rows,
    )
    curl_tp = rows[0][1]
    store_tp = rows[1][1]
    growth = max((r["peak"] - r["rss0"]) / benchkit.MIB for r in runs["store_url"])
    ratio = store_tp / curl_tp
    benchkit.table(
        "Target: RSS growth <= 64 MiB, at >= 0.8x curl's throughput",
        ["RSS growth MiB", "throughput ratio to curl", "target"],
        [[growth, ratio, benchkit.verdict(growth <= TARGET_RSS_MIB and ratio >= TARGET_THROUGHPUT_RATIO)]],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
