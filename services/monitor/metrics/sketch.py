"""Mergeable, JSON-serialisable distributions.

``QuantileSketch`` is a DDSketch-style log-bucket histogram: every quantile it
returns is within ``alpha`` relative error of the true value at rank
``floor(q * (n - 1))`` (numpy's ``method="lower"``). Buckets add, so sketches of
different partitions and windows merge exactly. ``LinearHist`` is a fixed-bin
histogram of values in [lo, hi] (scores), used for AUC.

Both round-trip through plain dicts (``to_dict``/``from_dict``) because faust
table values are JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

_MIN_POSITIVE = 1e-9


class QuantileSketch:
    __slots__ = ("_ln_gamma", "alpha", "count", "gamma", "max", "min", "neg", "pos",
                 "sum", "zero")

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self._ln_gamma = math.log(self.gamma)
        self.pos: dict[int, int] = {}
        self.neg: dict[int, int] = {}
        self.zero = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    # ---- building ----------------------------------------------------------
    def _index(self, magnitude: float) -> int:
        return math.ceil(math.log(magnitude) / self._ln_gamma)

    def _value(self, index: int) -> float:
        return 2.0 * self.gamma ** index / (self.gamma + 1.0)

    def add(self, value: float, weight: int = 1) -> None:
        if math.isnan(value):
            return
        if value > _MIN_POSITIVE:
            i = self._index(value)
            self.pos[i] = self.pos.get(i, 0) + weight
        elif value < -_MIN_POSITIVE:
            i = self._index(-value)
            self.neg[i] = self.neg.get(i, 0) + weight
        else:
            self.zero += weight
        self.count += weight
        self.sum += value * weight
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def extend(self, values: Iterable[float]) -> None:
        for v in values:
            self.add(v)

    def merge(self, other: QuantileSketch) -> None:
        if other.alpha != self.alpha:
            raise ValueError("cannot merge sketches of different accuracy")
        for i, c in other.pos.items():
            self.pos[i] = self.pos.get(i, 0) + c
        for i, c in other.neg.items():
            self.neg[i] = self.neg.get(i, 0) + c
        self.zero += other.zero
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    # ---- reading -----------------------------------------------------------
    def buckets(self) -> Iterator[tuple[float, int]]:
        """(representative value, count) in ascending value order."""
        for i in sorted(self.neg, reverse=True):
            yield -self._value(i), self.neg[i]
        if self.zero:
            yield 0.0, self.zero
        for i in sorted(self.pos):
            yield self._value(i), self.pos[i]

    def quantile(self, q: float) -> float | None:
        if self.count == 0:
            return None
        if not 0 <= q <= 1:
            raise ValueError("q must be in [0, 1]")
        rank = math.floor(q * (self.count - 1))
        seen = 0
        for value, c in self.buckets():
            seen += c
            if seen > rank:
                return min(max(value, self.min), self.max)
        return self.max

    def fraction_at_most(self, threshold: float) -> float | None:
        """Share of values <= threshold (bucket resolution)."""
        if self.count == 0:
            return None
        return sum(c for v, c in self.buckets() if v <= threshold) / self.count

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    # ---- serialisation -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"a": self.alpha, "p": {str(k): v for k, v in self.pos.items()},
                "n": {str(k): v for k, v in self.neg.items()}, "z": self.zero,
                "c": self.count, "s": self.sum,
                "lo": self.min if self.count else None, "hi": self.max if self.count else None}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, alpha: float = 0.01) -> QuantileSketch:
        if not raw:
            return cls(alpha)
        sk = cls(float(raw.get("a", alpha)))
        sk.pos = {int(k): int(v) for k, v in raw.get("p", {}).items()}
        sk.neg = {int(k): int(v) for k, v in raw.get("n", {}).items()}
        sk.zero = int(raw.get("z", 0))
        sk.count = int(raw.get("c", 0))
        sk.sum = float(raw.get("s", 0.0))
        sk.min = float(raw["lo"]) if raw.get("lo") is not None else math.inf
        sk.max = float(raw["hi"]) if raw.get("hi") is not None else -math.inf
        return sk


class LinearHist:
    """Counts of values in ``bins`` equal-width bins over [lo, hi] (clamped)."""

    __slots__ = ("bins", "counts", "hi", "lo")

    def __init__(self, bins: int = 1000, lo: float = 0.0, hi: float = 1.0) -> None:
        self.bins, self.lo, self.hi = bins, lo, hi
        self.counts: dict[int, int] = {}

    def index(self, value: float) -> int:
        i = int((value - self.lo) / (self.hi - self.lo) * self.bins)
        return min(max(i, 0), self.bins - 1)

    def add(self, value: float, weight: int = 1) -> None:
        i = self.index(value)
        self.counts[i] = self.counts.get(i, 0) + weight

    def merge(self, other: LinearHist) -> None:
        for i, c in other.counts.items():
            self.counts[i] = self.counts.get(i, 0) + c

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"b": self.bins, "lo": self.lo, "hi": self.hi,
                "c": {str(k): v for k, v in self.counts.items()}}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, bins: int = 1000) -> LinearHist:
        if not raw:
            return cls(bins)
        h = cls(int(raw.get("b", bins)), float(raw.get("lo", 0.0)), float(raw.get("hi", 1.0)))
        h.counts = {int(k): int(v) for k, v in raw.get("c", {}).items()}
        return h


def merge_sketch_dicts(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None,
                       alpha: float = 0.01) -> dict[str, Any]:
    """Merge two serialised sketches into a new serialised sketch."""
    sk = QuantileSketch.from_dict(a, alpha)
    sk.merge(QuantileSketch.from_dict(b, sk.alpha))
    return sk.to_dict()
