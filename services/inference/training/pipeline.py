"""``mlmesh train``: labels -> point-in-time training set -> model -> ONNX ->
metrics -> new risk_scorer version with a model card (-> Triton reload)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from inference.contract import FEATURE_NAMES, FEATURE_REFS, FEATURE_SERVICE, SCORER_MODEL
from inference.training.dataset import TrainingSet, build_training_set
from inference.training.model import Trained, train
from inference.training.registry import code_revision, load_on_triton, publish

log = logging.getLogger(__name__)


@dataclass
class TrainReport:
    version_dir: Path | None
    card: dict[str, Any]
    loaded: bool

    @property
    def beats_baseline(self) -> bool:
        m = self.card["metrics"]
        return bool(m["auc"] >= m["baseline_auc"] + 0.1)


def model_card(ts: TrainingSet, trained: Trained, labels_source: str,
               feature_service: str) -> dict[str, Any]:
    start, end = ts.window
    return {
        "model": SCORER_MODEL, "framework": "scikit-learn GradientBoostingClassifier -> "
        "ONNX (skl2onnx, zipmap off)", "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime()),
        "code_revision": code_revision(),
        "data_window": {"label_time_min": start, "label_time_max": end,
                        "labels": len(ts.frame), "positives": int(ts.y.sum()),
                        "labels_source": labels_source},
        "feature_service": feature_service, "features": list(FEATURE_NAMES),
        "feature_refs": list(FEATURE_REFS),
        "input": {"name": "FEATURES", "dtype": "fp32", "shape": [-1, len(FEATURE_NAMES)]},
        "output": {"name": "SCORE", "meaning": "P(fraud/bot)"},
        "split": "by label time: the latest 30% held out",
        "metrics": trained.metrics.to_dict(),
    }


def run(store: Any, labels: pd.DataFrame, repository: Path | None, *,
        labels_source: str, feature_service: str = FEATURE_SERVICE,
        triton_http: str = "", version: int | None = None,
        min_auc_gain: float = 0.1) -> TrainReport:
    ts = build_training_set(store, labels, feature_service)
    trained = train(ts.x, ts.y)
    card = model_card(ts, trained, labels_source, feature_service)
    m = trained.metrics
    log.info("model trained", extra={"auc": m.auc, "baseline_auc": m.baseline_auc,
                                     "test_rows": m.test_rows})
    if repository is None:
        return TrainReport(None, card, False)
    if not m.auc >= m.baseline_auc + min_auc_gain:
        raise RuntimeError(f"model AUC {m.auc:.3f} does not beat the baseline "
                           f"{m.baseline_auc:.3f} by {min_auc_gain}: not published")
    vdir = publish(repository, trained.onnx, card, version)
    loaded = False
    if triton_http:
        load_on_triton(triton_http)
        loaded = True
    return TrainReport(vdir, {**card, "version": vdir.name}, loaded)
