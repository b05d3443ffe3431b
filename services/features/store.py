"""Feast I/O of the features service: config in code, idempotent online writes,
append-only Parquet offline writes, online reads.

Online: a row is written only if its window end is not older than the stored
one (SQLite's upsert would let a replayed, older result overwrite a newer
one). Writes and the window-end reads behind that rule go straight to Feast's
online store interface (``online_write_batch`` / ``online_read`` of the
store's provider, the calls ``write_to_online_store`` and
``get_online_features`` end in), with the value protos built here: the
DataFrame -> Arrow -> proto conversion and the response building add to
the store's own work (``bench/features_online_write.py`` times both). The
stored window end of each user this store has read or written is
remembered (``window_end_cache`` users per view, the least recently written
first out), so the rule reads a user's stored window once, not once per
batch; the writer's consumer forgets them all at each rebalance, when
another writer may have written those users. Hence one writer per user: one
consumer group per online store, results keyed by user (the job's sink is).
On a plain SQLite store the rows go through ``features.sqlite_online``
(Feast's own upsert, one ``executemany`` per view).

Offline: every window result is appended as a Parquet file per batch
(no pandas index) under ``<offline_dir>/<view>/``; replays may repeat identical
rows, which point-in-time joins resolve to the same values. The writer
merges the small files (``features.compact``).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from features.catalog import (
    CREATED_COLUMN,
    EVENT_TIMESTAMP_COLUMN,
    JOIN_KEY,
    VIEWS,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureRow:
    user_id: str
    view: str
    window_start_ms: int
    window_end_ms: int
    values: dict[str, float]
    emitted_ms: int

    @property
    def version(self) -> tuple[int, int]:
        return (self.window_end_ms, self.emitted_ms)


@dataclass(frozen=True)
class OnlineValue:
    view: str
    values: dict[str, Any]
    window_end: datetime | None


def redis_connection_string(url: str) -> str:
    """``redis://host:port/db`` -> Feast's ``host:port,db=N``."""
    rest = url.split("://", 1)[-1]
    hostport, _, db = rest.partition("/")
    return f"{hostport},db={db or '0'}"


def _by_view(rows: Iterable[FeatureRow]) -> dict[str, list[FeatureRow]]:
    by_view: dict[str, list[FeatureRow]] = {}
    for row in rows:
        by_view.setdefault(row.view, []).append(row)
    return by_view


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class FeastStore:
    """Opened lazily: ``import feast`` costs seconds."""

    def __init__(self, state_dir: Path, online: str = "sqlite",
                 redis_url: str = "redis://127.0.0.1:6379/0",
                 offline_dir: Path | None = None, window_end_cache: int = 100_000) -> None:
        self.root = Path(state_dir).resolve() / "features"
        self.offline_dir = Path(offline_dir).resolve() if offline_dir else self.root / "offline"
        self.online = online
        self.redis_url = redis_url
        self._store: Any = None
        self._views: dict[str, Any] = {}
        self._sqlite: Any = None  # SqliteOnlineWriter on a plain SQLite online store
        self.window_end_cache = window_end_cache
        # view -> user -> stored window end (ms; None: nothing stored)
        self._ends: dict[str, OrderedDict[str, int | None]] = {}

    def open(self, apply: bool = True) -> Any:
        if self._store is not None:
            return self._store
        from feast import FeatureStore, RepoConfig

        from features.feast_defs import PROJECT, definitions

        self.root.mkdir(parents=True, exist_ok=True)
        online: dict[str, Any]
        if self.online == "redis":
            # skip_dedup: Feast's own Redis check drops a write whose event time
            # equals the stored one, so a window's later emission (same window
            # end: a replay after a restore, a restated result) would never show;
            # write_online already keeps the newest window per user, as on SQLite.
            online = {"type": "redis", "skip_dedup": True,
                      "connection_string": redis_connection_string(self.redis_url)}
        else:
            online = {"type": "sqlite", "path": str(self.root / "online.db")}
        config = RepoConfig(project=PROJECT, provider="local",
                            registry=str(self.root / "registry.db"), online_store=online,
                            offline_store={"type": "file"},
                            entity_key_serialization_version=3)
        store = FeatureStore(config=config)
        if apply:
            from features.tiles import DELTA_VIEW, TILES_VIEW

            for name in (*VIEWS, TILES_VIEW, DELTA_VIEW):
                (self.offline_dir / name).mkdir(parents=True, exist_ok=True)
            store.apply(definitions(self.offline_dir).objects())
        from features import sqlite_online

        if sqlite_online.supports(config):
            self._sqlite = sqlite_online.SqliteOnlineWriter(store)
        self._store = store
        return store

    def ping(self) -> bool:
        """The stores answer: the online one (Redis PING, or SQLite SELECT 1) and
        the offline directory is writable. The sink loop asks before it takes a
        failing batch for a poison one (mlmesh.kafka.sink)."""
        import contextlib
        import os
        import sqlite3

        try:
            if not os.access(self.offline_dir, os.W_OK):
                return False
            if self.online == "redis":
                import redis

                client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
                try:
                    return bool(client.ping())
                finally:
                    client.close()
            with contextlib.closing(sqlite3.connect(self.root / "online.db", timeout=2)) as db:
                db.execute("SELECT 1")
            return True
        except Exception:
            return False

    # ---- writes -------------------------------------------------------------
    def write(self, rows: Iterable[FeatureRow]) -> int:
        """Online, then offline (see :meth:`write_online`, :meth:`write_offline`).
        Returns rows written online."""
        rows = list(rows)
        written = self.write_online(rows)
        self.write_offline(rows)
        return written

    def write_online(self, rows: Iterable[FeatureRow]) -> int:
        """Per (user, view) the newest row, unless the store already holds a
        newer window. Returns rows written."""
        by_view = _by_view(rows)
        written = 0
        for view, items in by_view.items():
            newest: dict[str, FeatureRow] = {}
            for row in items:
                cur = newest.get(row.user_id)
                if cur is None or row.version >= cur.version:
                    newest[row.user_id] = row
            stored = self._stored_window_ends(view, list(newest))
            fresh = [r for u, r in newest.items()
                     if (have := stored.get(u)) is None or r.window_end_ms >= have]
            if fresh:
                self.write_online_rows(self._view(view), self._online_rows(view, fresh))
                self._remember(view, fresh)
                written += len(fresh)
        return written

    def forget_window_ends(self) -> None:
        """Read every user's stored window end from the store again (call it
        when another writer may have written them: a consumer rebalance)."""
        self._ends.clear()

    def _stored_window_ends(self, view: str, users: list[str]) -> dict[str, int | None]:
        if not self.window_end_cache:
            return self.online_window_ends(view, users)
        known = self._ends.setdefault(view, OrderedDict())
        missing = [u for u in users if u not in known]
        stored = self.online_window_ends(view, missing) if missing else {}
        out = {u: stored[u] if u in stored else known[u] for u in users}
        known.update(stored)
        self._trim(known)
        return out

    def _remember(self, view: str, written: list[FeatureRow]) -> None:
        """After a write: the window end each user now has (most recently
        written last, the first to go when the cache is full)."""
        if not self.window_end_cache:
            return
        known = self._ends.setdefault(view, OrderedDict())
        for row in written:
            known[row.user_id] = row.window_end_ms
            known.move_to_end(row.user_id)
        self._trim(known)

    def _trim(self, known: OrderedDict[str, int | None]) -> None:
        while len(known) > self.window_end_cache:
            known.popitem(last=False)

    def feature_view(self, name: str) -> Any:
        """The Feast feature view ``name`` of this store (looked up once)."""
        return self._view(name)

    def entity_keys(self, users: list[str]) -> list[Any]:
        """Feast entity keys of ``users`` (join key ``user_id``)."""
        return self._entity_keys(users)

    def write_online_rows(self, view: Any, rows: list[Any]) -> None:
        """Rows as Feast's online stores take them, through the SQLite fast
        path where it applies, else the provider's ``online_write_batch``."""
        store = self.open()
        if self._sqlite is not None:
            self._sqlite.write(view, rows)
        else:
            store.provider.online_write_batch(store.config, view, rows, None)

    def _view(self, name: str) -> Any:
        if name not in self._views:
            self._views[name] = self.open().get_feature_view(name)
        return self._views[name]

    @staticmethod
    def _entity_keys(users: list[str]) -> list[Any]:
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        return [EntityKey(join_keys=[JOIN_KEY], entity_values=[Value(string_val=u)])
                for u in users]

    def _online_rows(self, view: str, rows: list[FeatureRow]
                     ) -> list[tuple[Any, dict[str, Any], datetime, datetime]]:
        """Rows as Feast's online stores take them, typed as the view's schema
        (Int64 counts, Float64 otherwise; NaN is null, as Feast converts it)."""
        from feast.protos.feast.types.Value_pb2 import Value

        spec = VIEWS[view]
        int_typed = {f: spec.is_count(f) for f in spec.features}
        keys = self._entity_keys([r.user_id for r in rows])
        out = []
        for key, row in zip(keys, rows, strict=True):
            values: dict[str, Any] = {}
            for f, is_count in int_typed.items():
                v = float(row.values.get(f, 0.0))
                if math.isnan(v):
                    values[f] = Value()
                elif is_count:
                    values[f] = Value(int64_val=round(v))
                else:
                    values[f] = Value(double_val=v)
            out.append((key, values, _utc(row.window_end_ms), _utc(row.emitted_ms)))
        return out

    def write_offline(self, rows: Iterable[FeatureRow]) -> None:
        """Append every window result (one row per window: two emissions of
        the same window end in one batch keep only the later one)."""
        for view, items in _by_view(rows).items():
            latest: dict[tuple[str, int], FeatureRow] = {}
            for row in items:
                key = (row.user_id, row.window_end_ms)
                if key not in latest or row.emitted_ms >= latest[key].emitted_ms:
                    latest[key] = row
            self._write_offline(view, list(latest.values()))

    def _frame(self, view: str, rows: list[FeatureRow]) -> Any:
        import pandas as pd

        spec = VIEWS[view]
        data: dict[str, list[Any]] = {JOIN_KEY: [r.user_id for r in rows]}
        for f in spec.features:
            vals = [r.values.get(f, 0.0) for r in rows]
            data[f] = [round(v) for v in vals] if spec.is_count(f) else [float(v) for v in vals]
        data[EVENT_TIMESTAMP_COLUMN] = [_utc(r.window_end_ms) for r in rows]
        data[CREATED_COLUMN] = [_utc(r.emitted_ms) for r in rows]
        frame = pd.DataFrame(data)
        for f in spec.features:
            frame[f] = frame[f].astype("int64" if spec.is_count(f) else "float64")
        return frame

    def _write_offline(self, view: str, rows: list[FeatureRow]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self._frame(view, rows), preserve_index=False)
        out = self.offline_dir / view
        out.mkdir(parents=True, exist_ok=True)
        first = min(r.window_end_ms for r in rows)
        tmp = out / f".part-{first}-{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp)
        tmp.rename(out / tmp.name[1:].replace(".tmp", ".parquet"))

    # ---- reads --------------------------------------------------------------
    def online_window_ends(self, view: str, users: list[str]) -> dict[str, int | None]:
        """Stored window end (epoch ms; SQLite keeps whole seconds, Redis ms) per
        user for ``view``; None if nothing stored."""
        if not users:
            return {}
        store = self.open()
        found = store.provider.online_read(
            store.config, self._view(view), self._entity_keys(users),
            [VIEWS[view].features[0]])
        return {user: (int(ts.timestamp() * 1000) if ts is not None else None)
                for user, (ts, _values) in zip(users, found, strict=True)}

    def read_user(self, user_id: str) -> list[OnlineValue]:
        store = self.open(apply=False)
        result = []
        for spec in VIEWS.values():
            resp = store.get_online_features(
                features=[f"{spec.name}:{f}" for f in spec.features],
                entity_rows=[{JOIN_KEY: user_id}],
            ).to_dict(include_event_timestamps=True)
            values = {f: resp[f][0] for f in spec.features}
            stamps = [resp.get(f"{f}__ts", [None])[0] for f in spec.features]
            secs = next((t for t in stamps if isinstance(t, int) and t > 0), None)
            end = datetime.fromtimestamp(secs, tz=timezone.utc) if secs else None
            result.append(OnlineValue(spec.name, values, end))
        return result
