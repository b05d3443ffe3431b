"""Population stability index (PSI) between a reference and a current
distribution.

Bins are the reference's deciles (duplicates from ties collapse into one bin),
so each reference bin holds ~10% of the mass; empty bins are floored at
``EPSILON`` so the log stays finite. Conventional reading: < 0.1 stable,
0.1-0.2 moderate shift, > 0.2 significant drift (the alert threshold).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from monitor.metrics.sketch import QuantileSketch

EPSILON = 1e-4
DEFAULT_BINS = 10


def psi_from_counts(reference: Sequence[float], current: Sequence[float]) -> float:
    """PSI of two histograms over the same bins (counts or proportions)."""
    if len(reference) != len(current):
        raise ValueError("histograms must have the same number of bins")
    r_total, c_total = float(sum(reference)), float(sum(current))
    if r_total <= 0 or c_total <= 0:
        raise ValueError("empty histogram")
    value = 0.0
    for r, c in zip(reference, current, strict=True):
        rp = max(r / r_total, EPSILON)
        cp = max(c / c_total, EPSILON)
        value += (cp - rp) * math.log(cp / rp)
    return value


def decile_edges(reference: QuantileSketch, bins: int = DEFAULT_BINS) -> list[float]:
    """Inner bin edges: the reference's quantiles at 1/bins .. (bins-1)/bins."""
    edges: list[float] = []
    for i in range(1, bins):
        q = reference.quantile(i / bins)
        if q is not None and (not edges or q > edges[-1]):
            edges.append(q)
    return edges


def binned(sketch: QuantileSketch, edges: Sequence[float]) -> list[int]:
    """Counts of the sketch's buckets in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    counts = [0] * (len(edges) + 1)
    for value, c in sketch.buckets():
        counts[bisect.bisect_left(edges, value)] += c
    return counts


def psi(reference: QuantileSketch, current: QuantileSketch,
        bins: int = DEFAULT_BINS) -> float | None:
    """PSI of ``current`` against ``reference`` (None when either is empty)."""
    if reference.count == 0 or current.count == 0:
        return None
    edges = decile_edges(reference, bins)
    return psi_from_counts(binned(reference, edges), binned(current, edges))
