"""Fault injection: which call gets a 429/500/401, a hang or a drop, and the added latency.

:class:`Faults` owns the random generator seeded by ``seed``; it holds no lock of its own
and is called with the state's lock held, so a seeded run draws the same numbers in the
same order whatever the thread interleaving of unrelated calls.
"""

from __future__ import annotations

import random

from django_smsrest.sandbox.config import SandboxConfig

#: The faults that strike after an order was accepted and stored, in draw order.
AFTER_FAULTS: tuple[str, ...] = ("error_after", "timeout_after", "drop_after")


class Faults:
    """Counts ``*_next`` down and draws ``*_rate`` from one seeded generator."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

    def reseed(self) -> None:
        """Restart the generator from ``config.seed`` (on reset or a new seed)."""
        self.rng = random.Random(self.config.seed)

    def take(self, fault: str) -> bool:
        """Whether ``fault`` strikes this call: its ``_next`` counter first, then its rate.

        The random draw happens only when the rate is non-zero, so a seeded run stays
        reproducible whatever other faults are configured.
        """
        config = self.config
        remaining = getattr(config, f"{fault}_next")
        if remaining > 0:
            setattr(config, f"{fault}_next", remaining - 1)
            return True
        rate = getattr(config, f"{fault}_rate")
        return rate > 0 and self.rng.random() < rate

    def after_fault(self) -> str | None:
        """Which post-acceptance fault strikes this order, if any.

        ``_next`` counters first; then one draw shared by the three rates, so their sum is
        the share of accepted orders that get some fault.
        """
        config = self.config
        for name in AFTER_FAULTS:
            remaining = getattr(config, f"{name}_next")
            if remaining > 0:
                setattr(config, f"{name}_next", remaining - 1)
                return name
        rates = [getattr(config, f"{name}_rate") for name in AFTER_FAULTS]
        if not any(rates):
            return None
        draw = self.rng.random()
        for name, rate in zip(AFTER_FAULTS, rates, strict=True):
            if draw < rate:
                return name
            draw -= rate
        return None

    def latency(self) -> float:
        """Seconds of added latency for the next REST call (0 when the fault is off)."""
        low, high = self.config.latency
        if high <= 0:
            return 0.0
        if low == high:
            return low / 1000.0
        return self.rng.uniform(low, high) / 1000.0


__all__ = ["AFTER_FAULTS", "Faults"]
