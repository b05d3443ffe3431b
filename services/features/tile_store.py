"""Tiles in Feast: the feature writer folds the job's tile deltas into each
user's tiles (``features.tiles.UserTiles``) and writes them as one online row
of the ``user_tiles`` view; every delta is also appended to the offline store
(``tile_delta_1m``), from which :func:`historical` rebuilds the same tiles as
of any label time. Readers turn tiles into values with
``features.tiles.features_at``: one definition online and offline.

Exactly-once effect with an at-least-once writer: each user's row records the
Kafka position (partition, offset) of the last delta folded in; a delta at or
before it (a replay after a crash) is skipped online. The online row is
written first (what serving waits for), then every delta of the batch is
appended offline, replays included (a crash between the two must not lose
them offline; readers and compaction drop duplicates by position), then the
caller commits the offsets. A user's deltas all come from
one partition (the topic is keyed by user), so the position only grows. The
position is read back from the store once per user and then remembered
(``cache_users``, least recently written first out), and forgotten at every
rebalance, when another writer may have written those users.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from features.catalog import CREATED_COLUMN, EVENT_TIMESTAMP_COLUMN, JOIN_KEY
from features.store import FeastStore
from features.tiles import (
    DELTA_VIEW,
    MAX_TS,
    MIN_TS,
    MINUTE_FIELDS,
    TILES_FEATURES,
    TILES_VIEW,
    Delta,
    UserTiles,
)

log = logging.getLogger(__name__)
GAP_FEATURE = "session_gap_ms"
DELTA_COLUMNS = ("tile_start", *MINUTE_FIELDS, MIN_TS, MAX_TS, "kafka_partition", "kafka_offset")


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


@dataclass
class WriteStats:
    users: int = 0
    applied: int = 0
    replayed: int = 0
    visible_ms: float = 0.0  # when the online rows were written (epoch ms)


def decode_row(values: dict[str, Any] | None) -> tuple[UserTiles, int] | None:
    """An online row (feature name -> Value proto) -> (tiles, session gap ms)."""
    if not values or "newest_event_ms" not in values:
        return None
    newest = values["newest_event_ms"]
    if newest.WhichOneof("val") != "int64_val":
        return None
    state = UserTiles.from_arrays(
        values["minute_tiles"].double_list_val.val, values["hour_tiles"].double_list_val.val,
        values["sessions"].int64_list_val.val, newest.int64_val,
        values["applied_offset"].int64_list_val.val)
    return state, int(values[GAP_FEATURE].int64_val)


def encode_row(state: UserTiles, gap_ms: int) -> dict[str, Any]:
    from feast.protos.feast.types.Value_pb2 import DoubleList, Int64List, Value

    a = state.to_arrays()
    return {"minute_tiles": Value(double_list_val=DoubleList(val=a["minute_tiles"])),
            "hour_tiles": Value(double_list_val=DoubleList(val=a["hour_tiles"])),
            "sessions": Value(int64_list_val=Int64List(val=a["sessions"])),
            "newest_event_ms": Value(int64_val=state.newest_ms),
            "applied_offset": Value(int64_list_val=Int64List(val=a["applied_offset"])),
            GAP_FEATURE: Value(int64_val=gap_ms)}


class TileStore:
    """The writer's side of tiles in Feast (one writer per user: see module)."""

    def __init__(self, feast: FeastStore, gap_ms: int, cache_users: int = 100_000) -> None:
        self.feast = feast
        self.gap_ms = gap_ms
        self.cache_users = cache_users
        self._known: OrderedDict[str, UserTiles] = OrderedDict()

    def forget(self) -> None:
        self._known.clear()

    def read(self, users: list[str]) -> dict[str, UserTiles | None]:
        """Each user's stored tiles (None: nothing stored)."""
        if not users:
            return {}
        store = self.feast.open()
        found = store.provider.online_read(
            store.config, self.feast.feature_view(TILES_VIEW), self.feast.entity_keys(users),
            [*TILES_FEATURES, GAP_FEATURE])
        out: dict[str, UserTiles | None] = {}
        for user, (_ts, values) in zip(users, found, strict=True):
            row = decode_row(values)
            out[user] = row[0] if row else None
        return out

    def _states(self, users: list[str]) -> dict[str, UserTiles]:
        missing = [u for u in users if u not in self._known]
        stored = self.read(missing)
        out = {}
        for u in users:
            out[u] = self._known[u] if u in self._known else (stored.get(u) or UserTiles())
        return out

    def write(self, deltas: Iterable[Delta]) -> WriteStats:
        """Online (each touched user's tiles, one row), then offline (every
        delta of the batch, replays included: see module); the caller commits
        the offsets after both. A failed write forgets the batch's users, so a
        retry reads them from the store again."""
        batch = list(deltas)
        by_user: dict[str, list[Delta]] = {}
        for d in batch:
            by_user.setdefault(d.user_id, []).append(d)
        stats = WriteStats(users=len(by_user))
        if not by_user:
            return stats
        states = self._states(list(by_user))
        changed: set[str] = set()
        try:
            for user, items in by_user.items():
                state = states[user]
                for d in sorted(items, key=lambda x: (x.partition, x.offset)):
                    if state.apply(d, self.gap_ms):
                        stats.applied += 1
                        changed.add(user)
                    else:
                        stats.replayed += 1
                state.trim(self.gap_ms)
            if changed:
                self._write_online({u: states[u] for u in sorted(changed)})
            stats.visible_ms = time.time() * 1000
            self._write_offline(batch)
        except BaseException:
            for user in by_user:  # folded in memory, maybe not stored: read them again
                self._known.pop(user, None)
            raise
        for u in changed:
            self._known[u] = states[u]
            self._known.move_to_end(u)
        while len(self._known) > self.cache_users:
            self._known.popitem(last=False)
        return stats

    def _write_online(self, states: dict[str, UserTiles]) -> None:
        now = datetime.now(timezone.utc)
        keys = self.feast.entity_keys(list(states))
        rows = [(key, encode_row(s, self.gap_ms), _utc(s.newest_ms), now)
                for key, s in zip(keys, states.values(), strict=True)]
        self.feast.write_online_rows(self.feast.feature_view(TILES_VIEW), rows)

    def _write_offline(self, deltas: list[Delta]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data: dict[str, list[Any]] = {JOIN_KEY: [d.user_id for d in deltas],
                                      "tile_start": [d.tile_start_ms for d in deltas]}
        for name in MINUTE_FIELDS:
            data[name] = [float(d.values.get(name, 0.0)) for d in deltas]
        data[MIN_TS] = [d.min_ts for d in deltas]
        data[MAX_TS] = [d.max_ts for d in deltas]
        data["kafka_partition"] = [d.partition for d in deltas]
        data["kafka_offset"] = [d.offset for d in deltas]
        data[EVENT_TIMESTAMP_COLUMN] = [_utc(d.max_ts) for d in deltas]
        data[CREATED_COLUMN] = [_utc(d.emitted_ms) for d in deltas]
        out = self.feast.offline_dir / DELTA_VIEW
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".part-{min(d.max_ts for d in deltas)}-{uuid.uuid4().hex}.tmp"
        pq.write_table(pa.table(data), tmp)
        tmp.rename(out / tmp.name[1:].replace(".tmp", ".parquet"))
