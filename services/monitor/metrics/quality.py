"""Prediction quality from delayed labels: accuracy at a threshold and ROC AUC.

AUC is computed from per-class score histograms (``LinearHist``, 1000 bins by
default): pairs in the same bin count one half, exactly as ties do in the
Mann-Whitney statistic, so the error is bounded by the share of pairs that
share a bin.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.metrics.sketch import LinearHist


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, score: float, label: float, threshold: float = 0.5) -> None:
        predicted = score >= threshold
        actual = label >= 0.5
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.total if self.total else None


def auc_from_hists(positives: LinearHist, negatives: LinearHist) -> float | None:
    """Probability that a random positive scores above a random negative."""
    n_pos, n_neg = positives.total, negatives.total
    if n_pos == 0 or n_neg == 0:
        return None
    if positives.bins != negatives.bins:
        raise ValueError("histograms must share bins")
    below = 0  # negatives in bins strictly below the current one
    wins = 0.0
    for i in range(positives.bins):
        neg_here = negatives.counts.get(i, 0)
        pos_here = positives.counts.get(i, 0)
        if pos_here:
            wins += pos_here * (below + 0.5 * neg_here)
        below += neg_here
    return wins / (n_pos * n_neg)
