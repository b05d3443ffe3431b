from __future__ import annotations

import random

import numpy as np
import pytest

from monitor.metrics.sketch import LinearHist, QuantileSketch


@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.95, 0.99, 1.0])
def test_quantile_within_relative_accuracy(q: float) -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.2) for _ in range(20_000)]
    sk = QuantileSketch(0.01)
    sk.extend(values)
    expected = float(np.quantile(values, q, method="lower"))
    assert sk.quantile(q) == pytest.approx(expected, rel=0.0101)


def test_negative_zero_and_positive_values_are_ordered() -> None:
    values = [-50.0, -2.0, 0.0, 0.0, 3.0, 40.0, 500.0]
    sk = QuantileSketch(0.01)
    sk.extend(values)
    for q in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        assert sk.quantile(q) == pytest.approx(np.quantile(values, q, method="lower"), rel=0.011)


def test_merge_equals_sketch_of_union_and_round_trips() -> None:
    rng = random.Random(3)
    a, b = [rng.uniform(1, 100) for _ in range(500)], [rng.uniform(50, 500) for _ in range(700)]
    sa, sb, su = QuantileSketch(), QuantileSketch(), QuantileSketch()
    sa.extend(a)
    sb.extend(b)
    su.extend(a + b)
    sa.merge(QuantileSketch.from_dict(sb.to_dict()))
    assert sa.count == su.count == 1200
    assert sa.pos == su.pos
    assert sa.sum == pytest.approx(su.sum)
    assert sa.quantile(0.99) == su.quantile(0.99)


def test_empty_sketch_and_fraction() -> None:
    sk = QuantileSketch()
    assert sk.quantile(0.5) is None
    sk.extend([1.0, 2.0, 3.0, 400.0])
    assert sk.fraction_at_most(3.1) == 0.75


def test_linear_hist_clamps_and_merges() -> None:
    h = LinearHist(10)
    for v in (-1.0, 0.05, 0.55, 1.0, 2.0):
        h.add(v)
    assert h.counts == {0: 2, 5: 1, 9: 2}
    g = LinearHist.from_dict(h.to_dict())
    g.merge(h)
    assert g.total == 10
