"""Command line: ``python -m airflow_provider_kie.emulator --port 8089``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from airflow_provider_kie.emulator.app import create_app
from airflow_provider_kie.emulator.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    UPLOAD_HOST_PREFIX,
    EmulatorConfig,
)
from airflow_provider_kie.emulator.faults import FaultRule
from airflow_provider_kie.emulator.server import base_url_for, bind_socket


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_kie.emulator",
        description="Serve an offline emulator of KIE's Runway/Aleph/Market/Veo/common/upload APIs.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplier of KIE durations (default 1.0)"
    )
    parser.add_argument("--credits", type=int, default=EmulatorConfig.initial_credits, help="initial credits")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accepted bearer key (repeatable; default: any key)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of random fault decisions")
    parser.add_argument("--webhook-key", default=None, help="HMAC key that signs callbacks")
    parser.add_argument("--concurrency-cap", type=int, default=EmulatorConfig.concurrency_cap)
    parser.add_argument(
        "--rate-limit", type=int, default=EmulatorConfig.rate_limit, help="submits per window"
    )
    parser.add_argument(
        "--rate-window", type=float, default=EmulatorConfig.rate_window_s, help="real seconds"
    )
    parser.add_argument(
        "--public-base-url",
        default=None,
        help="base URL written into media links (e.g. http://kie-emulator:8089)",
    )
    parser.add_argument(
        "--callback-hosts",
        default=None,
        help="comma-separated hosts callbacks may reach, '*' for any (default: loopback only)",
    )
    parser.add_argument("--faults", type=Path, default=None, help="JSON file with a list of fault rules")
    parser.add_argument(
        "--media-renderer",
        choices=("ffmpeg", "sample"),
        default="ffmpeg",
        help="ffmpeg: a clip of its own per task, shaped like the request (default); sample: shipped clip",
    )
    parser.add_argument(
        "--market-outputs",
        action="append",
        default=[],
        metavar="MODEL=N",
        help="results per Market task of MODEL ('*' = every model); repeatable",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def parse_market_outputs(items: Sequence[str]) -> dict[str, int]:
    """``["kling-2.6/text-to-video=3", "*=2"]`` -> ``{"kling-2.6/text-to-video": 3, "*": 2}``."""
    outputs: dict[str, int] = {}
    for item in items:
        model, sep, count = item.rpartition("=")
        if not sep or not model or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--market-outputs: expected MODEL=N with N >= 1, got {item!r}")
        outputs[model] = int(count)
    return outputs


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The :class:`EmulatorConfig` the arguments describe."""
    faults: list[FaultRule] = []
    if args.faults is not None:
        faults = [FaultRule.from_dict(item) for item in json.loads(args.faults.read_text())]
    callback_hosts = EmulatorConfig.callback_allowed_hosts
    if args.callback_hosts is not None:
        hosts = tuple(host.strip() for host in args.callback_hosts.split(",") if host.strip())
        callback_hosts = None if "*" in hosts else hosts
    return EmulatorConfig(
        api_keys=frozenset(args.api_keys) if args.api_keys else None,
        initial_credits=args.credits,
        time_scale=args.time_scale,
        rate_limit=args.rate_limit,
        rate_window_s=args.rate_window,
        concurrency_cap=args.concurrency_cap,
        webhook_hmac_key=args.webhook_key,
        callback_allowed_hosts=callback_hosts,
        public_base_url=args.public_base_url,
        seed=args.seed,
        faults=tuple(faults),
        media_renderer=args.media_renderer,
        market_outputs=parse_market_outputs(args.market_outputs),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator in the foreground until interrupted."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    sock = bind_socket(args.host, args.port)
    base_url = config.public_base_url or base_url_for(sock)
    print(f"KIE emulator listening on {base_url_for(sock)}", flush=True)
    print(f"  base_url:        {base_url}", flush=True)
    print(f"  upload_base_url: {base_url}{UPLOAD_HOST_PREFIX}", flush=True)
    print(f"  admin:           {base_url}/_emulator/stats  (docs: {base_url}/_emulator/docs)", flush=True)
    print(f"  time_scale={config.time_scale} credits={config.initial_credits} seed={config.seed}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level=args.log_level,
            access_log=args.access_log,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on Ctrl+C, then re-raises the signal; the shutdown was clean.
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
