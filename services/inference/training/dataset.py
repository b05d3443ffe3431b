"""Training sets from Feast's offline store, joined point-in-time to labels.

Each label row ``(user_id, label_time, value)`` becomes an entity row with
``event_timestamp = label_time``; Feast's historical retrieval takes, per
feature view, the latest feature row whose event timestamp is at or before
that instant (and within the view's TTL). A feature computed after the label
time can therefore never reach the training set (tests/unit/inference/
test_training_leakage.py proves it on a real Feast store). Users with no
feature row before their label get the serving defaults, as online.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference.contract import DEFAULTS, ENTITY_KEY, FEATURE_NAMES

log = logging.getLogger(__name__)


@dataclass
class TrainingSet:
    frame: pd.DataFrame  # user_id, event_timestamp, label, FEATURE_NAMES...

    @property
    def x(self) -> np.ndarray:
        return self.frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float32)

    @property
    def y(self) -> np.ndarray:
        return (self.frame["label"].to_numpy(dtype=np.float64) >= 0.5).astype(np.int64)

    @property
    def window(self) -> tuple[str, str]:
        ts = pd.to_datetime(self.frame["event_timestamp"], utc=True)
        return ts.min().isoformat(), ts.max().isoformat()


def labels_from_parquet(path: Path) -> pd.DataFrame:
    """Columns user_id, label_time (datetime or unix ms) and value."""
    df = pd.read_parquet(path)
    return normalise_labels(df)


def normalise_labels(df: pd.DataFrame) -> pd.DataFrame:
    missing = {"user_id", "label_time", "value"} - set(df.columns)
    if missing:
        raise ValueError(f"labels need columns user_id, label_time, value; missing {missing}")
    ts = df["label_time"]
    if pd.api.types.is_numeric_dtype(ts):
        ts = pd.to_datetime(ts, unit="ms", utc=True)
    else:
        ts = pd.to_datetime(ts, utc=True)
    out = pd.DataFrame({ENTITY_KEY: df["user_id"].astype(str), "event_timestamp": ts,
                        "label": df["value"].astype(float)})
    # One label per (user, instant): the latest observation wins.
    return out.drop_duplicates([ENTITY_KEY, "event_timestamp"], keep="last").reset_index(
        drop=True)


def labels_from_topic(bootstrap: str, topic: str = "labels", timeout_s: float = 30.0,
                      kind: int = 0) -> pd.DataFrame:
    """Every Label on ``topic`` (read_committed, from the start to the end)."""
    from mlmesh.events.v1 import label_pb2
    from mlmesh.kafka.read import read_to_end
    from mlmesh.kafka.serde import SerdeError, decode

    rows: list[dict[str, Any]] = []
    for msg in read_to_end(bootstrap, topic, timeout=timeout_s, strict=False,
                           group_prefix="mlmesh-train-"):
        try:
            label = decode(label_pb2.Label, msg.value())
        except SerdeError:
            continue
        if kind and label.kind != kind:
            continue
        rows.append({"user_id": label.user_id, "value": label.value,
                     "label_time": label.label_time.ToMilliseconds()})
    if not rows:
        raise ValueError(f"no labels on topic {topic}")
    return normalise_labels(pd.DataFrame(rows))


def tiles_training_set(store: Any, labels: pd.DataFrame,
                       features: tuple[str, ...] = FEATURE_NAMES,
                       gap_ms: int | None = None) -> TrainingSet:
    """Point-in-time values for ``labels`` from the mesh's own offline store:
    each user's tile deltas up to the label time folded by the definition
    serving uses (``features.offline.historical``; ``store`` is the mesh's
    ``features.store.FeastStore``)."""
    from features.catalog import DEFAULT_SESSION_GAP_S
    from features.offline import historical

    rows = [(str(u), int(pd.Timestamp(t).timestamp() * 1000))
            for u, t in zip(labels[ENTITY_KEY], labels["event_timestamp"], strict=True)]
    values = historical(store, rows, gap_ms or DEFAULT_SESSION_GAP_S * 1000)
    frame = labels[[ENTITY_KEY, "event_timestamp", "label"]].reset_index(drop=True).copy()
    for name in features:
        frame[name] = [float(v.get(name, DEFAULTS[name])) for v in values]
    known = frame[list(features)].ne(0).any(axis=1).sum()
    log.info("training set built from tiles",
             extra={"rows": len(frame), "rows_with_features": int(known)})
    return TrainingSet(frame.sort_values("event_timestamp").reset_index(drop=True))


def build_training_set(store: Any, labels: pd.DataFrame, feature_service: str,
                       features: tuple[str, ...] = FEATURE_NAMES) -> TrainingSet:
    """Point-in-time join of ``labels`` (user_id, event_timestamp, label) with the
    feature service's views in Feast's offline store; for the mesh's own store,
    from its tile deltas (:func:`tiles_training_set`)."""
    from features.store import FeastStore

    if isinstance(store, FeastStore):
        return tiles_training_set(store, labels, features)
    service = store.get_feature_service(feature_service)
    entity_df = labels[[ENTITY_KEY, "event_timestamp", "label"]].copy()
    entity_df["_row"] = np.arange(len(entity_df))
    joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    # Feast drops entity rows with no feature data in some versions: re-attach
    # every label, defaults where nothing was known at label time.
    joined = entity_df.merge(joined.drop(columns=[ENTITY_KEY, "event_timestamp", "label"],
                                         errors="ignore"), on="_row", how="left")
    for name in features:
        if name not in joined.columns:
            joined[name] = np.nan
        joined[name] = pd.to_numeric(joined[name], errors="coerce").fillna(DEFAULTS[name])
    known = joined[list(features)].ne(0).any(axis=1).sum()
    log.info("training set built", extra={"rows": len(joined), "rows_with_features": int(known)})
    frame = joined[[ENTITY_KEY, "event_timestamp", "label", *features]].sort_values(
        "event_timestamp").reset_index(drop=True)
    return TrainingSet(frame)
