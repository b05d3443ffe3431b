from __future__ import annotations

import math
import random

import pytest
from sklearn.metrics import roc_auc_score

from monitor.metrics.cost import cost_per_1k
from monitor.metrics.psi import psi, psi_from_counts
from monitor.metrics.quality import Confusion, auc_from_hists
from monitor.metrics.sketch import LinearHist, QuantileSketch


def test_psi_from_counts_matches_the_formula() -> None:
    ref, cur = [50, 30, 20], [30, 30, 40]
    expected = sum((c / 100 - r / 100) * math.log((c / 100) / (r / 100))
                   for r, c in zip(ref, cur, strict=True))
    assert psi_from_counts(ref, cur) == pytest.approx(expected)
    assert psi_from_counts(ref, ref) == 0.0


def _sketch(values: list[float]) -> QuantileSketch:
    sk = QuantileSketch(0.02)
    sk.extend(values)
    return sk


def test_psi_is_small_for_same_distribution_and_large_for_shift() -> None:
    rng = random.Random(1)
    ref = _sketch([rng.gauss(100, 15) for _ in range(5000)])
    same = _sketch([rng.gauss(100, 15) for _ in range(5000)])
    shifted = _sketch([rng.gauss(130, 15) for _ in range(5000)])
    assert (psi(ref, same) or 0) < 0.05
    assert (psi(ref, shifted) or 0) > 0.2
    assert psi(ref, QuantileSketch(0.02)) is None


def test_auc_from_histograms_matches_sklearn() -> None:
    rng = random.Random(5)
    labels = [rng.random() < 0.3 for _ in range(4000)]
    scores = [min(1.0, max(0.0, rng.gauss(0.65 if y else 0.4, 0.15))) for y in labels]
    pos, neg = LinearHist(1000), LinearHist(1000)
    for s, y in zip(scores, labels, strict=True):
        (pos if y else neg).add(s)
    assert auc_from_hists(pos, neg) == pytest.approx(roc_auc_score(labels, scores), abs=0.002)
    assert auc_from_hists(pos, LinearHist(1000)) is None


def test_confusion_accuracy() -> None:
    c = Confusion()
    for score, label in ((0.9, 1.0), (0.2, 0.0), (0.7, 0.0), (0.1, 1.0), (0.5, 1.0)):
        c.add(score, label, 0.5)
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 1, 1, 1)
    assert c.accuracy == pytest.approx(0.6)


def test_cost_per_1k() -> None:
    # 2,000 predictions using 3.6e6 ms = 1 CPU hour at 0.05/h -> 0.025 per 1,000
    assert cost_per_1k(3_600_000.0, 2000, 0.05) == pytest.approx(0.025)
    assert cost_per_1k(10.0, 0, 1.0) is None
