"""Point-in-time feature values from the offline store, with the online
definition: the tile deltas of each user with event time at or before a label
time ``t`` are folded in Kafka order into the same ``UserTiles`` the writer
keeps online, then ``features_at(tiles, t)`` gives the vector. Train/serve
skew is therefore zero by construction for the same deltas (what differs is
only what had *arrived* by ``t``: a delta of an event at or before ``t`` that
reached the writer after ``t`` is in the offline value, not in the one served
at ``t``). The deltas are read through Feast's offline store interface
(``pull_all_from_table_or_query``), so any Feast offline store serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from features.catalog import CREATED_COLUMN, EVENT_TIMESTAMP_COLUMN, JOIN_KEY
from features.store import FeastStore
from features.tiles import (
    DELTA_VIEW,
    MAX_TS,
    MIN_TS,
    MINUTE_FIELDS,
    Delta,
    UserTiles,
    features_at,
)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def read_deltas(store: FeastStore, start_ms: int, end_ms: int) -> Any:
    """Every stored delta with event time in [start, end], as a DataFrame."""
    fs = store.open(apply=False)
    source = fs.get_data_source(f"{DELTA_VIEW}_parquet")
    job = fs.provider.offline_store.pull_all_from_table_or_query(
        config=fs.config, data_source=source, join_key_columns=[JOIN_KEY],
        feature_name_columns=["tile_start", *MINUTE_FIELDS, MIN_TS, MAX_TS,
                              "kafka_partition", "kafka_offset"],
        timestamp_field=EVENT_TIMESTAMP_COLUMN, created_timestamp_column=CREATED_COLUMN,
        start_date=_utc(start_ms), end_date=_utc(end_ms) + timedelta(milliseconds=1))
    return job.to_df()


def historical(store: FeastStore, rows: Sequence[tuple[str, int]], gap_ms: int
               ) -> list[dict[str, float]]:
    """Feature values for each (user_id, t epoch ms), as ``features_at`` gives
    them from the deltas with event time <= t (replays counted once)."""
    if not rows:
        return []
    ts = [t for _, t in rows]
    if not any((store.offline_dir / DELTA_VIEW).glob("*.parquet")):
        # nothing written yet: every user reads as having no events
        return [features_at(UserTiles(), t, gap_ms) for _, t in rows]
    # from the start: a session still open at t can have begun any time before
    frame = read_deltas(store, 0, max(ts))
    frame = frame.drop_duplicates(subset=[JOIN_KEY, "kafka_partition", "kafka_offset"])
    frame = frame.sort_values(["kafka_partition", "kafka_offset"])
    by_user: dict[str, list[Delta]] = {}
    for rec in frame.to_dict("records"):
        by_user.setdefault(rec[JOIN_KEY], []).append(Delta(
            rec[JOIN_KEY], int(rec["tile_start"]), {f: float(rec[f]) for f in MINUTE_FIELDS},
            int(rec[MIN_TS]), int(rec[MAX_TS]), int(rec["kafka_partition"]),
            int(rec["kafka_offset"])))
    out = []
    for user, t in rows:
        state = UserTiles()
        for d in by_user.get(user, ()):
            if d.max_ts <= t:
                state.apply(d, gap_ms)
        state.trim(gap_ms)
        out.append(features_at(state, t, gap_ms))
    return out
