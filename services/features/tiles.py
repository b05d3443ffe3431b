"""Tiles: per-user partial aggregates per event-time tile, and the one
definition that turns them into served feature values as of a time ``t``.

Plain Python (no Feast, no Flink): the feature writer folds the job's tile
deltas into a :class:`UserTiles` (online), the offline reader folds the same
deltas into the same class as of a label time, and both call
:func:`features_at`, so online and offline values come from one code path.

The Flink job emits a *delta* per (user, minute tile, ~200 ms of processing
time): how many events, their amount, per-action counts and documents the
tile gained, and the event-time span ``[min_ts, max_ts]`` of those events.
A delta is folded into

* the user's **minute tile** (kept while a 1 h view can read it),
* the user's **hour tile** (events, amount, purchases; kept for 24 h),
* the user's **sessions**: a delta's events lie within one minute, closer
  together than any session gap (at least a minute), so the delta is one
  cluster that joins, extends or bridges sessions exactly as its events
  would one by one.

Served value of a view of size ``S`` read from tiles of width ``w`` at ``t``:
the events with ``tile_start(t) + w - S <= event_time <= t``: whole tiles at
the old edge (the window holds between ``S - w`` and ``S`` of history: at most
the oldest minute of ``5m``/``1h`` and the oldest hour of ``24h`` is left
out), exact at the new edge (a tile holds what has arrived, up to now).
Sessions (gap ``g``): a session is a maximal run of events less than ``g``
apart, closed at its last event + ``g``; ``last_session_*`` describe the
newest session that is open at ``t`` or closed within ``(t - 24h, t]`` (0
when there is none); ``session_count_24h`` counts the sessions closed within
``(t - 24h, t]``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field

from features.catalog import ACTIONS, HOUR_MS, MINUTE_MS, VIEWS

TILE_MS = MINUTE_MS
HOUR_TILE_MS = HOUR_MS
# FeatureUpdate.feature_view of a tile delta (its window = the minute tile).
DELTA_VIEW = "tile_delta_1m"
# The Feast feature view holding each user's tiles (online) and its features.
TILES_VIEW = "user_tiles"

# A delta's and a minute tile's fields, in the order of the flattened arrays.
MINUTE_FIELDS: tuple[str, ...] = ("events", "amount", *ACTIONS.values(), "docs")
HOUR_FIELDS: tuple[str, ...] = ("events", "amount", "purchase")
_M = {name: i for i, name in enumerate(MINUTE_FIELDS)}
_H = {name: i for i, name in enumerate(HOUR_FIELDS)}
MIN_TS, MAX_TS = "min_ts", "max_ts"

FIVE_MIN = 5 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
# Retention, relative to the newest event time the user has: what a read at or
# after it can still need. Older tiles leave the state (and the online store).
MINUTE_RETENTION_MS = HOUR_MS - TILE_MS  # tiles [start(newest) - 59 min, start(newest)]
HOUR_RETENTION_MS = DAY_MS - HOUR_TILE_MS
# A delta older than this (to the job's watermark) cannot change any value
# served from now on: the job sends such events to the DLQ (late_event).
RETENTION_MS = DAY_MS + HOUR_TILE_MS


def tile_start(ts: int, width: int = TILE_MS) -> int:
    return ts - ts % width


@dataclass(frozen=True)
class Delta:
    """What one minute tile of one user gained in one emission of the job."""

    user_id: str
    tile_start_ms: int
    values: dict[str, float]
    min_ts: int
    max_ts: int
    partition: int = -1
    offset: int = -1
    emitted_ms: int = 0

    @property
    def events(self) -> int:
        return round(self.values.get("events", 0.0))


@dataclass
class UserTiles:
    """One user's retained tiles and sessions (what the online store keeps)."""

    minute: dict[int, list[float]] = field(default_factory=dict)
    hour: dict[int, list[float]] = field(default_factory=dict)
    # [start, last, events] per session, sorted by start, none overlapping
    sessions: list[list[int]] = field(default_factory=list)
    newest_ms: int = 0
    # the Kafka position of the last delta folded in: a replay is skipped
    partition: int = -1
    offset: int = -1

    def seen(self, d: Delta) -> bool:
        return d.partition == self.partition and 0 <= d.offset <= self.offset

    def apply(self, d: Delta, gap_ms: int) -> bool:
        """Fold ``d`` in (False: already folded, a replay). Tiles past their
        retention are left alone; the caller trims afterwards."""
        if self.seen(d):
            return False
        if d.partition >= 0:
            self.partition, self.offset = d.partition, d.offset
        newest = max(self.newest_ms, d.max_ts)
        if d.tile_start_ms >= tile_start(newest) - MINUTE_RETENTION_MS:
            tile = self.minute.setdefault(d.tile_start_ms, [0.0] * len(MINUTE_FIELDS))
            for name, i in _M.items():
                tile[i] += d.values.get(name, 0.0)
        hour = tile_start(d.tile_start_ms, HOUR_TILE_MS)
        events = d.values.get("events", 0.0)
        if events and hour >= tile_start(newest, HOUR_TILE_MS) - HOUR_RETENTION_MS:
            htile = self.hour.setdefault(hour, [0.0] * len(HOUR_FIELDS))
            htile[_H["events"]] += events
            htile[_H["amount"]] += d.values.get("amount", 0.0)
            htile[_H["purchase"]] += d.values.get("purchase", 0.0)
        if events:
            self._session(d.min_ts, d.max_ts, round(events), gap_ms)
        self.newest_ms = newest
        return True

    def _session(self, first: int, last: int, n: int, gap_ms: int) -> None:
        """Merge the cluster [first, last] into every session it is closer
        than ``gap_ms`` to (that may bridge two)."""
        s = self.sessions
        i = bisect_left([x[0] for x in s], first)
        lo = i
        while lo > 0 and s[lo - 1][1] + gap_ms > first:
            lo -= 1
        hi = i
        while hi < len(s) and s[hi][0] - gap_ms < last:
            hi += 1
        merged = [first, last, n]
        for x in s[lo:hi]:
            merged = [min(merged[0], x[0]), max(merged[1], x[1]), merged[2] + x[2]]
        s[lo:hi] = [merged]

    def trim(self, gap_ms: int) -> None:
        """Drop what no read at or after ``newest_ms`` can use."""
        m0 = tile_start(self.newest_ms) - MINUTE_RETENTION_MS
        h0 = tile_start(self.newest_ms, HOUR_TILE_MS) - HOUR_RETENTION_MS
        if self.minute and min(self.minute) < m0:
            self.minute = {k: v for k, v in self.minute.items() if k >= m0}
        if self.hour and min(self.hour) < h0:
            self.hour = {k: v for k, v in self.hour.items() if k >= h0}
        s0 = self.newest_ms - DAY_MS - gap_ms
        if self.sessions and self.sessions[0][1] <= s0:
            self.sessions = [x for x in self.sessions if x[1] > s0]

    # ---- flattened form (the online row) -------------------------------------
    def to_arrays(self) -> dict[str, list[float] | list[int] | int]:
        minute: list[float] = []
        for start in sorted(self.minute):
            minute.append(float(start))
            minute.extend(self.minute[start])
        hour: list[float] = []
        for start in sorted(self.hour):
            hour.append(float(start))
            hour.extend(self.hour[start])
        return {"minute_tiles": minute, "hour_tiles": hour,
                "sessions": [v for x in self.sessions for v in x],
                "newest_event_ms": self.newest_ms,
                "applied_offset": [self.partition, self.offset]}

    @classmethod
    def from_arrays(cls, minute: Iterable[float], hour: Iterable[float],
                    sessions: Iterable[int], newest_ms: int,
                    applied: Iterable[int] = (-1, -1)) -> UserTiles:
        out = cls(newest_ms=int(newest_ms))
        m, h, s = list(minute), list(hour), [int(v) for v in sessions]
        mw, hw = len(MINUTE_FIELDS) + 1, len(HOUR_FIELDS) + 1
        out.minute = {int(m[i]): m[i + 1:i + mw] for i in range(0, len(m) - mw + 1, mw)}
        out.hour = {int(h[i]): h[i + 1:i + hw] for i in range(0, len(h) - hw + 1, hw)}
        out.sessions = [s[i:i + 3] for i in range(0, len(s) - 2, 3)]
        pos = [*applied, -1, -1]
        out.partition, out.offset = int(pos[0]), int(pos[1])
        return out


# The features each tile-backed view serves, from the catalog.
SERVED_VIEWS = ("user_activity_5m", "user_activity_1h", "user_activity_24h",
                "user_sessions", "user_documents_1h")
FEATURE_NAMES: tuple[str, ...] = tuple(f for v in SERVED_VIEWS for f in VIEWS[v].features)
TILES_FEATURES = ("minute_tiles", "hour_tiles", "sessions", "newest_event_ms", "applied_offset")


def _sum(tiles: dict[int, list[float]], first: int, last: int, i: int) -> float:
    """Correctly rounded (``fsum``): the same value whatever order the tiles
    were folded in, online or offline."""
    return math.fsum(v[i] for k, v in tiles.items() if first <= k <= last)


def features_at(state: UserTiles, t: int, gap_ms: int) -> dict[str, float]:
    """Every served feature of the user as of ``t`` (epoch ms, ``t >=
    state.newest_ms`` for exact values; see the module docstring)."""
    out: dict[str, float] = {}
    head = tile_start(t)
    first_5m = head - FIVE_MIN + TILE_MS
    n5 = _sum(state.minute, first_5m, head, _M["events"])
    a5 = _sum(state.minute, first_5m, head, _M["amount"])
    out["event_count_5m"], out["amount_sum_5m"] = n5, a5
    out["amount_mean_5m"] = a5 / n5 if n5 else 0.0
    distinct = 0
    for name in ACTIONS.values():
        c = _sum(state.minute, first_5m, head, _M[name])
        out[f"{name}_count_5m"] = c
        distinct += c > 0
    out["distinct_actions_5m"] = float(distinct)
    first_1h = head - HOUR_MS + TILE_MS
    n1 = _sum(state.minute, first_1h, head, _M["events"])
    a1 = _sum(state.minute, first_1h, head, _M["amount"])
    out["event_count_1h"], out["amount_sum_1h"] = n1, a1
    out["amount_mean_1h"] = a1 / n1 if n1 else 0.0
    out["purchase_count_1h"] = _sum(state.minute, first_1h, head, _M["purchase"])
    hhead = tile_start(t, HOUR_TILE_MS)
    first_24h = hhead - DAY_MS + HOUR_TILE_MS
    out["event_count_24h"] = _sum(state.hour, first_24h, hhead, _H["events"])
    out["amount_sum_24h"] = _sum(state.hour, first_24h, hhead, _H["amount"])
    out["purchase_count_24h"] = _sum(state.hour, first_24h, hhead, _H["purchase"])
    recent = [x for x in state.sessions if x[0] <= t and x[1] + gap_ms > t - DAY_MS]
    closed = [x for x in recent if x[1] + gap_ms <= t]
    last = recent[-1] if recent else None
    out["session_count_24h"] = float(len(closed))
    out["last_session_length_s"] = (last[1] - last[0]) / 1000 if last else 0.0
    out["last_session_event_count"] = float(last[2]) if last else 0.0
    out["doc_count_1h"] = _sum(state.minute, first_1h, head, _M["docs"])
    return {k: (0.0 if math.isnan(v) else float(v)) for k, v in out.items()}


def fold(deltas: Iterable[Delta], gap_ms: int, state: UserTiles | None = None) -> UserTiles:
    """Deltas in Kafka order folded into one user's state (offline, tests)."""
    state = state or UserTiles()
    for d in deltas:
        state.apply(d, gap_ms)
    state.trim(gap_ms)
    return state
