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


def prediction_cost_per_1k(cpu_ms: float, model_ms: float | None, predictions: int,
                           cpu_hour: float, model_hour: float) -> float | None:
    """Cost of 1,000 predictions from what they used: the inference service's
    CPU time (``cpu_ms``, summed over the predictions) at the CPU price, plus
    the scoring model's compute on Triton over the same time (``model_ms``;
    None when Triton's statistics are not read) at the price of its device."""
    if predictions <= 0:
        return None
    total = cost_of(cpu_ms, cpu_hour) + cost_of(model_ms or 0.0, model_hour)
    return total / predictions * 1000.0
