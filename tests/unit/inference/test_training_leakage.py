"""No leakage: the training set joins features point-in-time on a REAL Feast
store (file offline store in a temp repo): a feature row computed after the
label time is never used, and the model card records the window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from inference.contract import FEATURE_SERVICE
from inference.training.dataset import build_training_set, normalise_labels

T0 = datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


def _store(tmp_path: Path, rows: pd.DataFrame) -> Any:
    feast = pytest.importorskip("feast")
    from feast.types import Float64, Int64

    data = tmp_path / "activity.parquet"
    rows.to_parquet(data, index=False)
    (tmp_path / "feature_store.yaml").write_text(
        "project: leakage\nprovider: local\nregistry: registry.db\n"
        "online_store:\n  type: sqlite\n  path: online.db\n"
        "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
    user = feast.Entity(name="user", join_keys=["user_id"])
    source = feast.FileSource(path=str(data), timestamp_field="event_timestamp")
    view = feast.FeatureView(
        name="user_activity_5m", entities=[user], ttl=timedelta(days=1), source=source,
        schema=[feast.Field(name="event_count_5m", dtype=Int64),
                feast.Field(name="amount_sum_5m", dtype=Float64)])
    service = feast.FeatureService(name=FEATURE_SERVICE, features=[view])
    store = feast.FeatureStore(repo_path=str(tmp_path))
    store.apply([user, view, service])
    return store


def test_feature_rows_after_the_label_time_are_never_used(tmp_path: Path) -> None:
    rows = pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u3"],
        "event_timestamp": [T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=10), T0],
        "event_count_5m": [1, 99, 42, 7],
        "amount_sum_5m": [10.0, 990.0, 420.0, 70.0],
    })
    store = _store(tmp_path, rows)
    labels = normalise_labels(pd.DataFrame({
        "user_id": ["u1", "u2", "u3", "u1"],
        # u1 labelled at 10:05 (only the 10:00 row is known then) and again at 10:15.
        "label_time": [T0 + timedelta(minutes=5), T0 + timedelta(minutes=5),
                       T0 + timedelta(minutes=5), T0 + timedelta(minutes=15)],
        "value": [1.0, 0.0, 1.0, 1.0],
    }))
    ts = build_training_set(store, labels, FEATURE_SERVICE)
    f = ts.frame.set_index(["user_id", "event_timestamp"])
    assert f.loc[("u1", T0 + timedelta(minutes=5)), "event_count_5m"] == 1
    assert f.loc[("u1", T0 + timedelta(minutes=5)), "amount_sum_5m"] == 10.0
    assert f.loc[("u1", T0 + timedelta(minutes=15)), "event_count_5m"] == 99
    # u2's only row is after its label: the serving default, never the future value
    assert f.loc[("u2", T0 + timedelta(minutes=5)), "event_count_5m"] == 0
    assert f.loc[("u3", T0 + timedelta(minutes=5)), "event_count_5m"] == 7
    assert len(ts.frame) == 4  # every label kept
    assert ts.x.shape == (4, 22) and ts.x.dtype == np.float32
    assert ts.y.tolist() == [1, 0, 1, 1]
