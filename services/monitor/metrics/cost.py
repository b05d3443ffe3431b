"""Serving cost from measured compute time.

cost = compute_ms / 3.6e6 [hours] x price per hour of the device that did the
work; reported per 1,000 units (predictions or embedded documents).
"""

from __future__ import annotations

MS_PER_HOUR = 3_600_000.0


def cost_of(compute_ms: float, price_per_hour: float) -> float:
    return compute_ms / MS_PER_HOUR * price_per_hour


def cost_per_1k(compute_ms: float, units: int, price_per_hour: float) -> float | None:
    """Cost of 1,000 units given the total compute time spent on ``units``."""
    if units <= 0:
        return None
    return cost_of(compute_ms, price_per_hour) / units * 1000.0
