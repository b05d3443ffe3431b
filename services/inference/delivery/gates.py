"""Gates of a rollout step, computed from what the mesh actually served: the
``predictions`` topic (PredictionMade per answer, per shadow scoring and per
failure), the candidate against the primary over the same window.

* error rate: a candidate answer with ``error`` set, or a canary request that
  fell back to the primary (``canary_failed``), counts as a candidate error.
  Breach: at least ``min_errors`` errors and a rate above the primary's plus
  ``max_error_rate_delta``. Checked continuously: a breach ends the step at once.
* p99 of the scoring stage (``stage_latency_ms["score"]``, the part a version
  changes): breach above the primary's x ``max_p99_ratio`` + ``p99_slack_ms``.
  Canary steps only: a shadow is scored off the request path, concurrently
  with the next request, so its latency says little about serving it.
* score-distribution shift: PSI of the candidate's scores against the
  primary's, 10 bins on the primary's deciles. Breach above ``max_psi``.
* AUC on labels: a label (topic ``labels``) that arrives during the step is
  joined with each version's latest served prediction for its user made before
  the label was observed (in shadow both versions scored the same requests; in
  canary each scored its own users). Where each version has ``min_labels``
  labelled predictions with ``min_class`` of each class, breach when the
  candidate's AUC is below the primary's by more than ``max_auc_drop``. Fewer
  labels: the gate is not measured and does not hold the step (labels are
  delayed; the figures say how many there were).
Latency and PSI need ``min_requests`` answers of each version; until then the
step holds (and fails as "insufficient traffic" past its longest hold).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from mlmesh.events.v1 import label_pb2, prediction_made_pb2

_PER_USER = 8          # latest predictions kept per (version, user) for the label join
_PENDING_USERS = 50_000  # users with a label still waiting for a prediction record


@dataclass(frozen=True)
class GateConfig:
    min_requests: int = 50
    min_errors: int = 5
    max_error_rate_delta: float = 0.02
    max_p99_ratio: float = 1.5
    p99_slack_ms: float = 5.0
    max_psi: float = 0.25
    min_labels: int = 50
    min_class: int = 5
    max_auc_drop: float = 0.05


@dataclass
class VersionStats:
    requests: int = 0
    errors: int = 0
    score_ms: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    labelled: list[tuple[float, bool]] = field(default_factory=list)  # (score, positive)

    def auc(self, cfg: GateConfig) -> float | None:
        """ROC AUC of the labelled predictions; None while there are too few."""
        pos = np.sort([s for s, y in self.labelled if y])
        neg = np.sort([s for s, y in self.labelled if not y])
        if len(self.labelled) < cfg.min_labels or min(len(pos), len(neg)) < cfg.min_class:
            return None
        below = np.searchsorted(neg, pos, "left")   # negatives scored lower
        ties = np.searchsorted(neg, pos, "right") - below
        return float((below.sum() + 0.5 * ties.sum()) / (len(pos) * len(neg)))

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def p99(self) -> float:
        return float(np.percentile(self.score_ms, 99)) if self.score_ms else 0.0


@dataclass
class Verdict:
    breach: str = ""       # non-empty: roll back now, with this reason
    ready: bool = False    # every gate measured and passed
    waiting: str = ""      # what is not measured yet
    figures: dict[str, float] = field(default_factory=dict)


def psi(expected: list[float], actual: list[float], bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected``."""
    if not expected or not actual:
        return 0.0
    edges = np.unique(np.quantile(np.asarray(expected), np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        # (nearly) one value: a bin around it and one either side, so a candidate
        # that answers anything else lands elsewhere
        mid = float(np.median(expected))
        edges = np.array([-math.inf, mid - 1e-6, mid + 1e-6, math.inf])
    edges[0], edges[-1] = -math.inf, math.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


class Window:
    """Per-version statistics of one step's window of predictions."""

    def __init__(self, candidate: str, primary: str) -> None:
        self.candidate, self.primary = candidate, primary
        self.cand, self.prim = VersionStats(), VersionStats()
        # (stats, user) -> latest (predicted_at_ms, score); user -> labels waiting
        self._served: dict[tuple[int, str], deque[tuple[int, float]]] = \
            defaultdict(lambda: deque(maxlen=_PER_USER))
        self._waiting: dict[str, list[tuple[int, bool, dict[int, int]]]] = {}

    def add(self, rec: prediction_made_pb2.PredictionMade) -> None:
        failed_over = "canary_failed" in rec.degraded_reasons
        if rec.model_version == self.candidate or failed_over:
            stats = self.cand
            error = bool(rec.error) or failed_over
        elif rec.model_version == self.primary and rec.route != "shadow":
            stats, error = self.prim, bool(rec.error)
        else:
            return
        stats.requests += 1
        if error:
            stats.errors += 1
            return
        self._serve(stats, rec.user_id, rec.predicted_at.ToMilliseconds(), rec.score)
        if stats is self.cand or not rec.cache_hit:
            ms = rec.stage_latency_ms.get("score")
            if ms is not None:
                stats.score_ms.append(ms)
        if not rec.cache_hit:
            stats.scores.append(rec.score)

    def _serve(self, stats: VersionStats, user: str, at_ms: int, score: float) -> None:
        self._served[(id(stats), user)].append((at_ms, score))
        for observed_ms, positive, slots in self._waiting.get(user, []):
            if at_ms > observed_ms:
                continue
            # records of one user arrive in order (one partition): a later one
            # made before the label replaces the earlier match
            if id(stats) in slots:
                stats.labelled[slots[id(stats)]] = (score, positive)
            else:
                slots[id(stats)] = len(stats.labelled)
                stats.labelled.append((score, positive))

    def add_label(self, label: label_pb2.Label) -> None:
        """Join a label with each version's latest prediction for its user made
        before the label was observed; one read later is joined when it comes."""
        observed_ms = label.observed_at.ToMilliseconds() or label.label_time.ToMilliseconds()
        positive = label.value >= 0.5
        slots: dict[int, int] = {}
        for stats in (self.cand, self.prim):
            before = [p for p in self._served.get((id(stats), label.user_id), ())
                      if p[0] <= observed_ms]
            if before:
                slots[id(stats)] = len(stats.labelled)
                stats.labelled.append((max(before)[1], positive))
        if label.user_id in self._waiting or len(self._waiting) < _PENDING_USERS:
            self._waiting.setdefault(label.user_id, []).append((observed_ms, positive, slots))

    def verdict(self, cfg: GateConfig, latency: bool = True) -> Verdict:
        c, p = self.cand, self.prim
        v = Verdict(figures={"candidate_requests": c.requests, "primary_requests": p.requests,
                             "candidate_error_rate": c.error_rate,
                             "primary_error_rate": p.error_rate})
        if c.errors >= cfg.min_errors and \
                c.error_rate > p.error_rate + cfg.max_error_rate_delta:
            v.breach = (f"error rate {c.error_rate:.1%} ({c.errors}/{c.requests}) against "
                        f"the primary's {p.error_rate:.1%} (+{cfg.max_error_rate_delta:.0%} "
                        "allowed)")
            return v
        cauc, pauc = c.auc(cfg), p.auc(cfg)
        v.figures.update({"candidate_labelled": len(c.labelled),
                          "primary_labelled": len(p.labelled)})
        if cauc is not None and pauc is not None:
            v.figures.update({"candidate_auc": cauc, "primary_auc": pauc})
            if cauc < pauc - cfg.max_auc_drop:
                v.breach = (f"AUC {cauc:.3f} on {len(c.labelled)} labelled predictions "
                            f"against the primary's {pauc:.3f} on {len(p.labelled)} "
                            f"(-{cfg.max_auc_drop:g} allowed)")
                return v
        if len(c.scores) < cfg.min_requests or len(p.scores) < cfg.min_requests:
            v.waiting = (f"{len(c.scores)}/{cfg.min_requests} candidate and "
                         f"{len(p.scores)}/{cfg.min_requests} primary answers")
            return v
        cp99, pp99 = c.p99(), p.p99()
        shift = psi(p.scores, c.scores)
        v.figures.update({"candidate_score_p99_ms": cp99, "primary_score_p99_ms": pp99,
                          "score_psi": shift})
        if latency and c.score_ms and p.score_ms and \
                cp99 > pp99 * cfg.max_p99_ratio + cfg.p99_slack_ms:
            v.breach = (f"scoring p99 {cp99:.1f} ms against the primary's {pp99:.1f} ms "
                        f"(x{cfg.max_p99_ratio:g} + {cfg.p99_slack_ms:g} ms allowed)")
        elif shift > cfg.max_psi:
            v.breach = f"score distribution shift PSI {shift:.3f} > {cfg.max_psi:g}"
        else:
            v.ready = True
        return v
