"""Configuration of the emulated Runway developer API (``EmulatorConfig.runway_api``).

The same server that plays KIE plays Runway's own API under :data:`RUNWAY_API_PREFIX` (``/runway-api``, so
``base_url + "/runway-api"`` stands for ``https://api.dev.runwayml.com``), and Runway's output CDN under
:data:`RUNWAY_CDN_PREFIX`. Durations named ``*_s`` are emulated seconds, multiplied by the emulator's
``time_scale`` like every KIE duration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_RUNWAY_API_KEY",
    "RUNWAY_API_KEY_PATTERN",
    "RUNWAY_API_PREFIX",
    "RUNWAY_API_VERSION",
    "RUNWAY_CDN_PREFIX",
    "RunwayApiConfig",
]

#: Path prefix of the emulated ``https://api.dev.runwayml.com``.
RUNWAY_API_PREFIX = "/runway-api"
#: Path prefix of the emulated output CDN (Runway's outputs come from a CloudFront host, not the API host).
RUNWAY_CDN_PREFIX = "/runway-cdn"
#: The one API version Runway documents (https://docs.dev.runwayml.com/api-details/versioning/).
RUNWAY_API_VERSION = "2024-11-06"
#: Runway's key format: "Keys start with key_ and are followed by 128 hexadecimal characters"
#: (https://docs.dev.runwayml.com/errors/troubleshooting). A KIE key sent to Runway fails it, as at Runway.
RUNWAY_API_KEY_PATTERN = re.compile(r"^key_[0-9a-f]{128}$")
#: A key of that shape, handed out by ``RunningEmulator.runway_api_key`` when no keys are configured.
DEFAULT_RUNWAY_API_KEY = "key_" + "0123456789abcdef" * 8


@dataclass(frozen=True)
class RunwayApiConfig:
    """How the emulated Runway API behaves.

    Attributes:
        api_keys: Accepted bearer keys. ``None`` accepts any key of Runway's documented shape
            (``key_`` + 128 hex digits), so a KIE key sent here is refused as Runway would.
        api_versions: ``X-Runway-Version`` values accepted; a missing header or another value is a 400 naming
            the header.
        initial_credits: The organisation's credit balance at start and after a reset (1 credit = $0.01).
        pending_s: Emulated seconds a task stays ``PENDING`` once it holds a concurrency slot.
        running_s: Emulated seconds it is ``RUNNING`` (``progress`` grows from 0 to 1).
        max_concurrent_generations: Tasks per model holding a slot at once (Runway's tier 1: 1-2); more wait
            as ``THROTTLED`` and start, oldest first, as slots free (https://docs.dev.runwayml.com/usage/tiers).
        concurrency_by_model: Per-model overrides of ``max_concurrent_generations``.
        max_daily_generations: Creates per model in a rolling 24 emulated hours; more are refused with 429.
        max_monthly_credit_spend: Reported by ``/v1/organization`` only.
        output_ttl_s: Life of an output URL from the task read that minted it (Runway: 24-48 h; 24 h, the
            worst case, here). Reading the task again mints fresh URLs.
        credits_per_second: Per-model overrides of the price table (``runway_api_rules.MODELS``).
    """

    api_keys: frozenset[str] | None = None
    api_versions: tuple[str, ...] = (RUNWAY_API_VERSION,)
    initial_credits: int = 10_000
    pending_s: float = 5.0
    running_s: float = 60.0
    max_concurrent_generations: int = 2
    concurrency_by_model: Mapping[str, int] = field(default_factory=dict)
    max_daily_generations: int = 200
    max_monthly_credit_spend: int = 10_000
    output_ttl_s: float = 24 * 3600.0
    credits_per_second: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.api_keys is not None and not isinstance(self.api_keys, frozenset):
            object.__setattr__(self, "api_keys", frozenset(self.api_keys))
        if not self.api_versions:
            raise ValueError("api_versions must name at least one version")
        if self.initial_credits < 0 or min(self.pending_s, self.running_s, self.output_ttl_s) < 0:
            raise ValueError("credits and durations must be >= 0")
        limits = [
            self.max_concurrent_generations,
            self.max_daily_generations,
            *self.concurrency_by_model.values(),
        ]
        if min(limits) < 1:
            raise ValueError("concurrency and daily limits must be >= 1")

    def concurrency_for(self, model: str) -> int:
        """Slots of ``model``: its override, else ``max_concurrent_generations``."""
        return self.concurrency_by_model.get(model, self.max_concurrent_generations)
