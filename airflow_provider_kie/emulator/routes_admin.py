"""The control plane under ``/_emulator``: introspection, faults, credits, time travel, reset.

It needs no API key (it is not part of KIE, and tests or ``curl`` must be able to repair a run whose key check
is under test) and it is never counted or faulted. The emulator binds to 127.0.0.1 by default; anyone who can
reach the port can drive it, which is the point of an emulator but a reason not to expose it beyond a test
network.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_kie.emulator.faults import FaultRule, SignatureFault
from airflow_provider_kie.emulator.market_catalogue import CATALOGUE
from airflow_provider_kie.emulator.market_rules import MarketModel
from airflow_provider_kie.emulator.state import EmulatorState


def _bad_request(msg: str) -> JSONResponse:
    return JSONResponse({"error": msg}, status_code=400)


async def _json(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


def config_summary(state: EmulatorState) -> dict[str, Any]:
    """The run's configuration as JSON (keys and HMAC key redacted)."""
    config = state.config
    summary: dict[str, Any] = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if item.name == "faults":
            value = [rule.to_dict() for rule in value]
        elif item.name == "costs":
            value = [
                {"kind": kind.value, "duration": d, "quality": q, "credits": c}
                for (kind, d, q), c in value.items()
            ]
        elif item.name in ("timeline", "aleph_timeline", "veo_timeline"):
            value = dataclasses.asdict(value)
        elif item.name == "market_outputs":
            value = dict(value)
        elif item.name == "api_keys":
            value = None if value is None else f"<{len(value)} key(s)>"
        elif item.name == "webhook_hmac_key":
            value = None if value is None else "<set>"
        elif item.name == "runway_api":
            value = dataclasses.asdict(value)
            keys = value["api_keys"]
            value["api_keys"] = None if keys is None else f"<{len(keys)} key(s)>"
            value["api_versions"] = list(value["api_versions"])
        elif isinstance(value, tuple):
            value = list(value)
        summary[item.name] = value
    return summary


def catalogue_entry(model: MarketModel) -> dict[str, Any]:
    """One catalogue model as JSON: its page, results and ``input`` fields."""
    fields = [
        {
            "name": rule.name,
            "kind": rule.kind,
            "required": rule.required,
            "choices": list(rule.choices),
            "default": rule.default,
        }
        for rule in model.fields
    ]
    return {
        "model": model.name,
        "family": model.family,
        "doc_url": model.doc_url,
        "outputs": model.outputs,
        "media": model.media,
        "fields": fields,
    }


def build_admin_router(state: EmulatorState) -> APIRouter:
    """Routes under ``/_emulator``."""
    router = APIRouter(prefix="/_emulator", tags=["emulator admin"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        """Liveness probe (used to wait for startup)."""
        return {"status": "ok"}

    @router.get("/config")
    async def config() -> dict[str, Any]:
        """The configuration of this run."""
        return config_summary(state)

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        """Submissions (received/accepted/paid/refunded/rejected), calls per endpoint, credits, callbacks."""
        return state.stats().to_dict()

    @router.get("/tasks")
    async def tasks() -> list[dict[str, Any]]:
        """Every task with its current state, cost and refund flag."""
        return [task.to_dict() for task in state.tasks()]

    @router.get("/tasks/{task_id}")
    async def task(task_id: str) -> JSONResponse:
        """One task, or 404."""
        snapshot = state.snapshot(task_id)
        if snapshot is None:
            return JSONResponse({"error": "no such task"}, status_code=404)
        return JSONResponse(snapshot.to_dict())

    @router.get("/callbacks")
    async def callbacks() -> list[dict[str, Any]]:
        """Every callback attempt (payload, headers, outcome)."""
        return [attempt.to_dict() for attempt in state.callback_log()]

    @router.post("/callbacks/forge")
    async def forge_callback(request: Request) -> JSONResponse:
        """POST a task's callback body now with spoiled headers: ``{"task_id": "...", "signature":
        "wrong_key" | "other_task" | "stale" | "future" | "unsigned" | null, "url": optional}``."""
        try:
            body = await _json(request)
            if not isinstance(body, dict) or not isinstance(body.get("task_id"), str):
                raise ValueError("task_id must be a task id")
            unknown = set(body) - {"task_id", "signature", "url"}
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
            url = body.get("url")
            if url is not None and not isinstance(url, str):
                raise ValueError("url must be a string")
            signature = body.get("signature", SignatureFault.WRONG_KEY.value)
            state.forge_callback(body["task_id"], signature=signature, url=url)
        except ValueError as exc:
            return _bad_request(str(exc))
        return JSONResponse({"task_id": body["task_id"], "signature": signature, "status": "queued"})

    @router.post("/callbacks/replay")
    async def replay_callback(request: Request) -> JSONResponse:
        """POST the last callback sent for a task again now, same body and headers: ``{"task_id": "..."}``."""
        try:
            body = await _json(request)
            if not isinstance(body, dict) or not isinstance(body.get("task_id"), str):
                raise ValueError("task_id must be a task id")
            replayed = state.replay_callback(body["task_id"])
        except ValueError as exc:
            return _bad_request(str(exc))
        return JSONResponse({"status": "queued", "replaying": replayed.to_dict()})

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        """The active fault rules and seed."""
        return {"seed": state.faults.seed, "rules": [rule.to_dict() for rule in state.faults.rules]}

    @router.post("/faults")
    async def set_faults(request: Request) -> JSONResponse:
        """Replace the fault rules: ``{"rules": [...], "seed": 7}``; ``"append": true`` adds instead."""
        try:
            body = await _json(request)
            if isinstance(body, list):
                body = {"rules": body}
            if not isinstance(body, dict):
                raise ValueError("expected {'rules': [...]} or a list of rules")
            rules = [FaultRule.from_dict(item) for item in body.get("rules", [])]
            seed = body.get("seed")
            if seed is not None and not isinstance(seed, int):
                raise ValueError("seed must be an integer")
        except (ValueError, TypeError) as exc:
            return _bad_request(str(exc))
        if body.get("append"):
            for rule in rules:
                state.add_fault(rule)
        else:
            state.set_faults(rules, seed=seed)
        return JSONResponse(
            {"seed": state.faults.seed, "rules": [rule.to_dict() for rule in state.faults.rules]}
        )

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        """Remove every fault rule."""
        state.clear_faults()
        return {"seed": state.faults.seed, "rules": []}

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        """Forget tasks, uploads, links and counters; credits and faults back to the configuration."""
        state.reset()
        return {"status": "reset"}

    @router.post("/credits")
    async def credits(request: Request) -> JSONResponse:
        """Set the balance: ``{"balance": 0}``."""
        try:
            body = await _json(request)
            balance = body.get("balance") if isinstance(body, dict) else None
            if isinstance(balance, bool) or not isinstance(balance, int):
                raise ValueError("balance must be an integer")
            state.set_credits(balance)
        except ValueError as exc:
            return _bad_request(str(exc))
        return JSONResponse({"balance": state.credits})

    @router.get("/catalogue")
    async def catalogue() -> list[dict[str, Any]]:
        """The Market models whose input is checked like KIE does (any other model name is accepted)."""
        return [catalogue_entry(model) for model in CATALOGUE.values()]

    @router.post("/outputs")
    async def outputs(request: Request) -> JSONResponse:
        """Results per Market task from now on: ``{"model": "kling-2.6/text-to-video", "count": 3}``
        (``"*"`` = every model; ``"count": null`` removes the override). Cleared by a reset."""
        try:
            body = await _json(request)
            if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
                raise ValueError("model must be a model name or '*'")
            count = body.get("count")
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise ValueError("count must be an integer or null")
            state.set_market_outputs(body["model"], count)
        except ValueError as exc:
            return _bad_request(str(exc))
        return JSONResponse({"model": body["model"], "count": count})

    @router.post("/advance")
    async def advance(request: Request) -> JSONResponse:
        """Jump ahead in KIE time: ``{"kie_seconds": 1209600}`` expires media (14 days)."""
        try:
            body = await _json(request)
            seconds = body.get("kie_seconds") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValueError("kie_seconds must be a number")
            state.advance_time(float(seconds))
        except ValueError as exc:
            return _bad_request(str(exc))
        return JSONResponse({"now": state.now()})

    return router
