"""``mlmesh train``: labels -> point-in-time training set -> model -> ONNX ->
holdout metrics (and the champion's on the same holdout) -> MLflow run and
registered version -> the same version number in the Triton repository
(-> Triton reload)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from inference.contract import FEATURE_NAMES, FEATURE_REFS, FEATURE_SERVICE, SCORER_MODEL
from inference.training.dataset import TrainingSet, build_training_set
from inference.training.model import Trained, evaluate, train
from inference.training.registry import code_revision, load_on_triton, publish, versions
from inference.training.tracking import Registry

log = logging.getLogger(__name__)


@dataclass
class TrainReport:
    version_dir: Path | None
    card: dict[str, Any]
    loaded: bool
    run_id: str = ""

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


def champion_metrics(repository: Path | None, champion: str, ts: TrainingSet,
                     trained: Trained) -> dict[str, float]:
    """The serving version's AUC and calibration on this run's holdout."""
    if repository is None or not champion:
        return {}
    onnx = repository / SCORER_MODEL / champion / "model.onnx"
    if not onnx.exists():
        return {}
    idx = trained.holdout
    return {f"champion_{k}": v for k, v in
            evaluate(onnx.read_bytes(), ts.x[idx], ts.y[idx]).items()}


def run_figures(card: dict[str, Any], champion: dict[str, float]) -> dict[str, float]:
    m = card["metrics"]
    return {"holdout_auc": m["auc"], "holdout_brier": m["extra"]["brier"],
            "holdout_ece": m["extra"]["ece"], "baseline_auc": m["baseline_auc"],
            "best_single_feature_auc": m["best_single_feature_auc"],
            "holdout_log_loss": m["log_loss"], "train_rows": m["train_rows"],
            "holdout_rows": m["test_rows"], "labels": card["data_window"]["labels"],
            "positives": card["data_window"]["positives"], **champion}


def run(store: Any, labels: pd.DataFrame, repository: Path | None, *,
        labels_source: str, feature_service: str = FEATURE_SERVICE,
        triton_http: str = "", version: int | None = None,
        min_auc_gain: float = 0.1, registry: Registry | None = None,
        champion: str = "") -> TrainReport:
    ts = build_training_set(store, labels, feature_service)
    trained = train(ts.x, ts.y)
    card = model_card(ts, trained, labels_source, feature_service)
    champ = champion_metrics(repository, champion, ts, trained)
    if champ:
        card["champion"] = {"version": champion, **champ}
    m = trained.metrics
    log.info("model trained", extra={"auc": m.auc, "baseline_auc": m.baseline_auc,
                                     "test_rows": m.test_rows, **champ})
    if repository is None:
        return TrainReport(None, card, False)
    if not m.auc >= m.baseline_auc + min_auc_gain:
        raise RuntimeError(f"model AUC {m.auc:.3f} does not beat the baseline "
                           f"{m.baseline_auc:.3f} by {min_auc_gain}: not published")
    run_id = ""
    if registry is not None:
        registry.adopt(repository, versions(repository))
        number = registry.next_version()
        if number in versions(repository):
            raise RuntimeError(
                f"the model repository already holds {SCORER_MODEL} version {number}, which "
                f"MLflow would give the new model: registry ({registry.uri}) and repository "
                f"({repository}) disagree; nothing was registered (`mlmesh reset` clears both)")
        params = {"model": SCORER_MODEL, "framework": card["framework"],
                  "features": ",".join(FEATURE_NAMES), "feature_service": feature_service,
                  "label_time_min": card["data_window"]["label_time_min"],
                  "label_time_max": card["data_window"]["label_time_max"],
                  "labels_source": labels_source, "split": card["split"],
                  "code_revision": card["code_revision"], "champion_version": champion or "-",
                  "n_estimators": 80, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.9}
        run_id, registered = registry.log_training(
            card=card, params=params, metrics=run_figures(card, champ),
            onnx=trained.onnx, run_name=f"{SCORER_MODEL}-{time.strftime('%Y%m%d-%H%M%S')}")
        version = int(registered)
        card = {**card, "mlflow_run_id": run_id}
    try:
        vdir = publish(repository, trained.onnx, card, version)
    except Exception:
        if registry is not None and version is not None:
            registry.delete_version(str(version))  # nothing half-applied
        raise
    loaded = False
    if triton_http:
        load_on_triton(triton_http)
        loaded = True
    return TrainReport(vdir, {**card, "version": vdir.name}, loaded, run_id)
