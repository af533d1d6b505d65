"""``GET /v1/organization``: the credit balance and the tier's limits, as a typed result.

The answer's shape, the runwayml SDK's ``OrganizationRetrieveResponse``
(https://github.com/runwayml/sdk-python/blob/main/api.md)::

    {"creditBalance": int,
     "tier": {"maxMonthlyCreditSpend": int,
              "models": {<model>: {"maxConcurrentGenerations": int, "maxDailyGenerations": int}}},
     "usage": {"models": {<model>: {"dailyGenerations": int}}}}

Limits are per organisation, not per key (https://docs.dev.runwayml.com/usage/tiers): over the concurrency
limit tasks wait as ``THROTTLED``; over the daily limit a create is refused with 429.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RunwayModelLimits", "RunwayOrganization", "parse_organization"]


@dataclass(frozen=True)
class RunwayModelLimits:
    """One model's limits in the organisation's tier, and today's use of it.

    :param max_concurrent_generations: tasks that may run at once; more wait as ``THROTTLED``.
    :param max_daily_generations: creates allowed in a rolling 24 h; more are refused with 429.
    :param daily_generations: creates in the past 24 h (``usage``); ``None`` when Runway did not say.
    """

    max_concurrent_generations: int | None
    max_daily_generations: int | None
    daily_generations: int | None = None

    @property
    def daily_remaining(self) -> int | None:
        """Creates left today, when both numbers are known."""
        if self.max_daily_generations is None or self.daily_generations is None:
            return None
        return max(0, self.max_daily_generations - self.daily_generations)


@dataclass(frozen=True)
class RunwayOrganization:
    """The organisation behind the API key.

    :param credit_balance: credits left (1 credit = $0.01).
    :param max_monthly_credit_spend: the most credits the tier may buy in 30 days.
    :param models: limits per model name (tier limits merged with today's usage).
    """

    credit_balance: int
    max_monthly_credit_spend: int | None
    models: Mapping[str, RunwayModelLimits] = field(default_factory=dict)

    def limits_for(self, model: str) -> RunwayModelLimits | None:
        """The limits of ``model``, or ``None`` when the tier lists none for it."""
        return self.models.get(model)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for XCom and logs)."""
        return {
            "credit_balance": self.credit_balance,
            "max_monthly_credit_spend": self.max_monthly_credit_spend,
            "models": {name: asdict(limits) for name, limits in self.models.items()},
        }


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_organization(data: Any) -> RunwayOrganization:
    """Read an organization answer; ``ValueError`` when it has no numeric ``creditBalance``."""
    body = _mapping(data)
    balance = _int(body.get("creditBalance"))
    if balance is None:
        raise ValueError("an organization answer without a numeric creditBalance")
    tier = _mapping(body.get("tier"))
    tier_models = _mapping(tier.get("models"))
    usage_models = _mapping(_mapping(body.get("usage")).get("models"))
    models: dict[str, RunwayModelLimits] = {}
    for name in sorted(set(tier_models) | set(usage_models)):
        limits = _mapping(tier_models.get(name))
        usage = _mapping(usage_models.get(name))
        models[str(name)] = RunwayModelLimits(
            max_concurrent_generations=_int(limits.get("maxConcurrentGenerations")),
            max_daily_generations=_int(limits.get("maxDailyGenerations")),
            daily_generations=_int(usage.get("dailyGenerations")),
        )
    return RunwayOrganization(
        credit_balance=balance,
        max_monthly_credit_spend=_int(tier.get("maxMonthlyCreditSpend")),
        models=models,
    )
