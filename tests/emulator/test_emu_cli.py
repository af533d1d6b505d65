"""``python -m airflow_provider_kie.emulator``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from airflow_provider_kie.emulator import DEFAULT_PORT, FaultRule
from airflow_provider_kie.emulator.__main__ import build_parser, config_from_args


def test_defaults_and_arguments() -> None:
    args = build_parser().parse_args([])
    assert args.port == DEFAULT_PORT == 8089 and args.host == "127.0.0.1"
    config = config_from_args(
        build_parser().parse_args(
            [
                "--time-scale",
                "0.01",
                "--credits",
                "50",
                "--api-key",
                "k1",
                "--api-key",
                "k2",
                "--seed",
                "3",
                "--webhook-key",
                "w",
                "--concurrency-cap",
                "4",
                "--callback-hosts",
                "*",
            ]
        )
    )
    assert config.time_scale == 0.01 and config.initial_credits == 50 and config.seed == 3
    assert config.api_keys == frozenset({"k1", "k2"}) and config.webhook_hmac_key == "w"
    assert config.concurrency_cap == 4 and config.callback_allowed_hosts is None
    assert config.media_renderer == "ffmpeg" and config.market_outputs == {}


def test_media_and_market_output_arguments() -> None:
    args = build_parser().parse_args(
        [
            "--media-renderer",
            "sample",
            "--market-outputs",
            "kling-2.6/text-to-video=3",
            "--market-outputs",
            "*=2",
        ]
    )
    config = config_from_args(args)
    assert config.media_renderer == "sample"
    assert config.market_outputs == {"kling-2.6/text-to-video": 3, "*": 2}
    with pytest.raises(SystemExit):
        config_from_args(build_parser().parse_args(["--market-outputs", "kling=0"]))


def test_cli_serves_and_prints_its_urls() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_kie.emulator",
            "--port",
            "0",
            "--time-scale",
            "0.01",
            "--api-key",
            "cli-key",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        base_url = lines[1].split()[-1]
        upload_base_url = lines[2].split()[-1]
        assert base_url.startswith("http://127.0.0.1:") and upload_base_url == base_url + "/upload-host"
        deadline = time.monotonic() + 15
        with httpx.Client(base_url=base_url, trust_env=False) as client:
            while True:
                try:
                    answer = client.get(
                        "/api/v1/chat/credit", headers={"Authorization": "Bearer cli-key"}
                    ).json()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert answer["code"] == 200
            denied = client.get("/api/v1/chat/credit", headers={"Authorization": "Bearer other"}).json()
            assert denied["code"] == 401
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0


def test_faults_file_and_callback_hosts(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"kind": "maintenance", "endpoint": "/api/v1/*", "probability": 0.5}]))
    config = config_from_args(
        build_parser().parse_args(["--faults", str(faults), "--callback-hosts", "receiver, 127.0.0.1"])
    )
    assert config.faults == (FaultRule("maintenance", endpoint="/api/v1/*", probability=0.5),)
    assert config.callback_allowed_hosts == ("receiver", "127.0.0.1")
