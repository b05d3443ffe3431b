"""A small gradient-boosted classifier, exported to ONNX, with held-out metrics.

The split is by time (the latest ``test_fraction`` of labels are held out), so
the evaluation never sees the future during training. The trivial baseline
predicts the training prior for everyone (AUC 0.5 by construction); a second,
stronger reference is the best single feature used as a score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference.contract import FEATURE_NAMES


@dataclass
class Metrics:
    auc: float
    baseline_auc: float
    best_single_feature: str
    best_single_feature_auc: float
    accuracy: float
    baseline_accuracy: float
    log_loss: float
    baseline_log_loss: float
    train_rows: int
    test_rows: int
    positives_test: int
    onnx_max_abs_diff: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v)
                for k, v in self.__dict__.items()}


@dataclass
class Trained:
    estimator: Any
    onnx: bytes
    metrics: Metrics
    holdout: np.ndarray = field(default_factory=lambda: np.arange(0))  # row indices


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Brier score and expected calibration error (equal-width bins)."""
    if not len(y):
        return {"brier": float("nan"), "ece": float("nan")}
    brier = float(np.mean((p - y) ** 2))
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = sum(abs(float(p[idx == b].mean()) - float(y[idx == b].mean())) * (idx == b).mean()
              for b in range(bins) if (idx == b).any())
    return {"brier": brier, "ece": float(ece)}


def evaluate(onnx: bytes, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """AUC and calibration of an ONNX scorer on (x, y): the champion's figures
    on the candidate's holdout."""
    scores = onnx_scores(onnx, x)
    return {"auc": _auc(y, scores), **calibration(y, scores)}


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else float("nan")


def split_by_time(n: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows are sorted by label time: the last ``test_fraction`` is held out."""
    cut = max(1, min(n - 1, round(n * (1 - test_fraction))))
    return np.arange(cut), np.arange(cut, n)


def to_onnx(estimator: Any, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(estimator, initial_types=[("FEATURES", FloatTensorType(
        [None, n_features]))], options={id(estimator): {"zipmap": False}}, target_opset=17)
    return bytes(onx.SerializeToString())


def onnx_scores(onnx: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    out = sess.run(["probabilities"], {sess.get_inputs()[0].name: x.astype(np.float32)})[0]
    return np.asarray(out)[:, -1]


def train(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.3, seed: int = 7) -> Trained:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import accuracy_score, log_loss

    if len(set(y.tolist())) < 2:
        raise ValueError("training labels hold one class only")
    train_idx, test_idx = split_by_time(len(y), test_fraction)
    if len(set(y[train_idx].tolist())) < 2:
        rng = np.random.default_rng(seed)  # too few positives early: stratify randomly
        perm = rng.permutation(len(y))
        cut = int(len(y) * (1 - test_fraction))
        train_idx, test_idx = np.sort(perm[:cut]), np.sort(perm[cut:])
    clf = GradientBoostingClassifier(n_estimators=80, max_depth=3, learning_rate=0.1,
                                     subsample=0.9, random_state=seed)
    clf.fit(x[train_idx], y[train_idx])
    xt, yt = x[test_idx], y[test_idx]
    proba = clf.predict_proba(xt)[:, 1]
    prior = float(y[train_idx].mean())
    base = np.full(len(yt), prior)
    singles = {name: _auc(yt, xt[:, i]) for i, name in enumerate(FEATURE_NAMES)
               if i < x.shape[1]}
    best = max(singles, key=lambda n: -1 if np.isnan(singles[n]) else singles[n])
    onnx = to_onnx(clf, x.shape[1])
    diff = float(np.max(np.abs(onnx_scores(onnx, xt) - proba))) if len(xt) else 0.0
    metrics = Metrics(
        auc=_auc(yt, proba), baseline_auc=_auc(yt, base), best_single_feature=best,
        best_single_feature_auc=singles[best],
        accuracy=float(accuracy_score(yt, proba >= 0.5)),
        baseline_accuracy=float(accuracy_score(yt, base >= 0.5)),
        log_loss=float(log_loss(yt, np.clip(proba, 1e-6, 1 - 1e-6), labels=[0, 1])),
        baseline_log_loss=float(log_loss(yt, base, labels=[0, 1])),
        train_rows=len(train_idx), test_rows=len(test_idx), positives_test=int(yt.sum()),
        onnx_max_abs_diff=diff, extra=calibration(yt, proba))
    return Trained(clf, onnx, metrics, test_idx)
