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
    from features.feast_defs import tile_views

    pushes, tiles = tile_views(repo / "data", user)
    for view in tiles:
        (repo / "data" / view.name).mkdir(exist_ok=True)
    objects += [*pushes, *tiles]
    store = feast.FeatureStore(repo_path=str(repo))
    store.apply(objects)
    return store


def _empty(spec: Any) -> pd.DataFrame:
    row: dict[str, Any] = {"user_id": ["__none__"],
                           "event_timestamp": [pd.Timestamp("2000-01-01", tz="UTC")]}
    for f in spec.features:
        row[f] = [0 if spec.is_count(f) else 0.0]
    return pd.DataFrame(row)


def tiles_for(values: dict[str, float], now_ms: int, gap_ms: int) -> Any:
    """A user's tiles (``features.tiles.UserTiles``) whose served values at
    ``now_ms`` are ``values`` (counts and sums; means follow from them): the
    5-minute activity in the current minute tile, the rest of the hour's ten
    minutes earlier, the 24 h figures in the current hour tile, the closed
    sessions a day apart, the last session ending now."""
    from features.catalog import ACTIONS
    from features.tiles import MINUTE_FIELDS, TILE_MS, UserTiles, tile_start

    def v(name: str) -> float:
        return float(values.get(name, 0.0))

    head = tile_start(now_ms)
    cur = dict.fromkeys(MINUTE_FIELDS, 0.0)
    cur.update(events=v("event_count_5m"), amount=v("amount_sum_5m"), docs=v("doc_count_1h"))
    for name in ACTIONS.values():
        cur[name] = v(f"{name}_count_5m")
    state = UserTiles(newest_ms=now_ms)
    state.minute[head] = [cur[f] for f in MINUTE_FIELDS]
    older = dict.fromkeys(MINUTE_FIELDS, 0.0)
    older.update(events=v("event_count_1h") - cur["events"],
                 amount=v("amount_sum_1h") - cur["amount"],
                 purchase=v("purchase_count_1h") - cur["purchase"])
    if any(older.values()):
        state.minute[head - 10 * TILE_MS] = [older[f] for f in MINUTE_FIELDS]
    state.hour[tile_start(now_ms, 60 * TILE_MS)] = [
        v("event_count_24h"), v("amount_sum_24h"), v("purchase_count_24h")]
    for i in range(int(v("session_count_24h"))):
        end = now_ms - gap_ms - (i + 1) * 30 * TILE_MS
        state.sessions.insert(0, [end - 1000, end - 1000, 1])
    length = round(v("last_session_length_s") * 1000)
    if v("last_session_event_count"):
        state.sessions.append([now_ms - length, now_ms, int(v("last_session_event_count"))])
    return state


def push_online(store: Any, user_id: str, values: dict[str, float],
                at: pd.Timestamp | None = None, gap_ms: int = 1_800_000) -> None:
    """Write one user's tiles (``tiles_for``) to the online store, as the
    feature writer does."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    from features.tile_store import encode_row
    from features.tiles import TILES_VIEW

    at = at if at is not None else pd.Timestamp.now(tz="UTC")
    now_ms = int(at.timestamp() * 1000)
    state = tiles_for(values, now_ms, gap_ms)
    key = EntityKey(join_keys=[_catalog().JOIN_KEY], entity_values=[Value(string_val=user_id)])
    store.provider.online_write_batch(
        store.config, store.get_feature_view(TILES_VIEW),
        [(key, encode_row(state, gap_ms), at.to_pydatetime(), at.to_pydatetime())], None)


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
