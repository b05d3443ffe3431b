"""A local Feast repository built from the shared feature catalog, plus a
reference offline computation of the windowed features from workload events.

Used by the integration tests, the benchmark and ``mlmesh train --workload``
when the streaming features job has not filled an offline store: it computes
the same windows as ``services/features/catalog.py`` declares (sliding
``size``/``slide``, window end = event timestamp) so a model can be trained on
the generator's bot/fraud ground truth end to end through Feast's
point-in-time join.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MINUTE_MS = 60_000


def _catalog() -> Any:
    from features import catalog

    return catalog


def make_feast_repo(repo: Path, offline: dict[str, pd.DataFrame] | None = None) -> Any:
    """Write feature_store.yaml + parquet sources under ``repo``, apply the
    catalog's entity, views (FileSource + PushSource ``<view>_push``) and the
    feature service; returns the FeatureStore."""
    import feast
    from feast.data_source import PushSource
    from feast.types import Float64, Int64

    cat = _catalog()
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: mlmesh_local\nprovider: local\nregistry: data/registry.db\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
    (repo / "data").mkdir(exist_ok=True)
    user = feast.Entity(name=cat.ENTITY, join_keys=[cat.JOIN_KEY],
                        value_type=feast.ValueType.STRING)
    objects: list[Any] = [user]
    views: list[Any] = []
    for spec in cat.VIEWS.values():
        frame = (offline or {}).get(spec.name)
        if frame is None or frame.empty:
            frame = _empty(spec)
        path = repo / "data" / f"{spec.name}.parquet"
        frame.reset_index(drop=True).to_parquet(path, index=False)
        batch = feast.FileSource(name=f"{spec.name}_file", path=str(path),
                                 timestamp_field="event_timestamp")
        push = PushSource(name=cat.push_source_name(spec.name), batch_source=batch)
        view = feast.FeatureView(
            name=spec.name, entities=[user], ttl=timedelta(days=2), source=push,
            schema=[feast.Field(name=f, dtype=Int64 if spec.is_count(f) else Float64)
                    for f in spec.features])
        objects += [view]
        views.append(view)
    objects.append(feast.FeatureService(name=cat.FEATURE_SERVICE, features=views))
    store = feast.FeatureStore(repo_path=str(repo))
    store.apply(objects)
    return store


def _empty(spec: Any) -> pd.DataFrame:
    row: dict[str, Any] = {"user_id": ["__none__"],
                           "event_timestamp": [pd.Timestamp("2000-01-01", tz="UTC")]}
    for f in spec.features:
        row[f] = [0 if spec.is_count(f) else 0.0]
    return pd.DataFrame(row)


def push_online(store: Any, user_id: str, values: dict[str, float],
                at: pd.Timestamp | None = None) -> None:
    """Write one user's current values to the online store via the push sources."""
    from feast.data_source import PushMode

    cat = _catalog()
    at = at if at is not None else pd.Timestamp.now(tz="UTC")
    for spec in cat.VIEWS.values():
        row: dict[str, Any] = {"user_id": [user_id], "event_timestamp": [at]}
        for f in spec.features:
            v = values.get(f, 0.0)
            row[f] = [int(v) if spec.is_count(f) else float(v)]
        store.push(cat.push_source_name(spec.name), pd.DataFrame(row), to=PushMode.ONLINE)


def offline_features(events: Iterable[Any], documents: Iterable[Any] = ()
                     ) -> dict[str, pd.DataFrame]:
    """Window rows per view for every user, at every slide boundary a window of
    that user is non-empty (UserEvent / Document protos in, DataFrames out)."""
    cat = _catalog()
    by_user: dict[str, list[tuple[int, int, float, str]]] = defaultdict(list)
    for e in events:
        by_user[e.user_id].append((e.event_time.ToMilliseconds(), int(e.action),
                                   float(e.amount), e.session_id))
    docs: dict[str, list[int]] = defaultdict(list)
    for d in documents:
        docs[d.user_id].append(d.created_at.ToMilliseconds())
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for user, rows in by_user.items():
        rows.sort()
        t = np.array([r[0] for r in rows], dtype=np.int64)
        act = np.array([r[1] for r in rows])
        amt = np.array([r[2] for r in rows])
        sess = [r[3] for r in rows]
        for spec in cat.VIEWS.values():
            if spec.name == "user_documents_1h":
                continue
            slide = spec.slide_ms or MINUTE_MS
            for end in _ends(t, spec.size_ms, slide):
                lo, hi = np.searchsorted(t, end - spec.size_ms), np.searchsorted(t, end)
                if hi <= lo:
                    continue
                row = _activity(spec, act[lo:hi], amt[lo:hi], t[lo:hi], sess[lo:hi], cat)
                out[spec.name].append({"user_id": user, "event_timestamp": _ts(end), **row})
    spec = cat.VIEWS["user_documents_1h"]
    for user, times in docs.items():
        dt = np.array(sorted(times), dtype=np.int64)
        for end in _ends(dt, spec.size_ms, spec.slide_ms):
            n = int(np.searchsorted(dt, end) - np.searchsorted(dt, end - spec.size_ms))
            if n:
                out[spec.name].append({"user_id": user, "event_timestamp": _ts(end),
                                       "doc_count_1h": n})
    return {name: pd.DataFrame(rows) for name, rows in out.items()}


def _ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _ends(t: np.ndarray, size: int, slide: int) -> list[int]:
    first = (int(t[0]) // slide + 1) * slide
    last = (int(t[-1]) // slide + 1) * slide + size
    return list(range(first, last, slide))


def _activity(spec: Any, act: np.ndarray, amt: np.ndarray, t: np.ndarray, sess: list[str],
              cat: Any) -> dict[str, Any]:
    n = len(act)
    row: dict[str, Any] = {}
    suffix = spec.name.rsplit("_", 1)[-1]
    for f in spec.features:
        if f == f"event_count_{suffix}":
            row[f] = n
        elif f == f"amount_sum_{suffix}":
            row[f] = float(amt.sum())
        elif f == f"amount_mean_{suffix}":
            row[f] = float(amt.mean())
        elif f == f"distinct_actions_{suffix}":
            row[f] = len(set(act.tolist()))
        elif f == "session_count_24h":
            row[f] = len(set(sess))
        elif f in ("last_session_length_s", "last_session_event_count"):
            idx = [i for i, s in enumerate(sess) if s == sess[-1]]
            row[f] = (float(t[idx[-1]] - t[idx[0]]) / 1000 if f == "last_session_length_s"
                      else len(idx))
        else:
            stem = f[: -len(f"_count_{suffix}")]
            code = next((c for c, name in cat.ACTIONS.items() if name == stem), None)
            row[f] = int((act == code).sum()) if code is not None else 0
    return row


def workload_training_data(repo: Path, users: int = 400, events: int = 40_000,
                           span_s: float = 3600.0, seed: int = 3) -> tuple[Any, pd.DataFrame]:
    """Generate a workload, compute its offline features into a local Feast repo
    at ``repo`` and return (store, labels) ready for ``pipeline.run``."""
    from inference.training.dataset import normalise_labels
    from mlmesh.workload import Workload, WorkloadConfig

    wl = Workload(WorkloadConfig(users=users, events=events, span_s=span_s, seed=seed))
    ev: list[Any] = []
    docs: list[Any] = []
    labels: list[dict[str, Any]] = []
    for r in wl.records():
        if r.kind == "user_event":
            ev.append(r.msg)
        elif r.kind == "document":
            docs.append(r.msg)
        else:
            label: Any = r.msg
            labels.append({"user_id": label.user_id, "value": label.value,
                           "label_time": label.label_time.ToMilliseconds()})
    store = make_feast_repo(repo, offline_features(ev, docs))
    return store, normalise_labels(pd.DataFrame(labels))
