"""The offline store's small Parquet files (one per view per writer batch) are
merged: every row survives once per (user, window end), the newest emission
of a window wins, a crash between writing the merge and deleting its inputs
heals at the next run, and a busy lock or too few files leave the directory
alone. Real Parquet files written by FeastStore.write_offline (no Feast call);
tests/integration/features/test_offline_compaction_join.py runs Feast's
point-in-time join before and after."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pyarrow.parquet as pq

from features.catalog import CREATED_COLUMN, EVENT_TIMESTAMP_COLUMN, JOIN_KEY
from features.compact import LOCK, compact_view
from features.store import FeastStore, FeatureRow

VIEW = "user_activity_1h"
MIN = 60_000


def _row(user: str, end_min: int, count: float, emitted_ms: int) -> FeatureRow:
    return FeatureRow(user, VIEW, (end_min - 60) * MIN, end_min * MIN,
                      {"event_count_1h": count, "amount_sum_1h": count * 2.5}, emitted_ms)


def _batches(tmp_path: Path, n: int) -> tuple[FeastStore, list[FeatureRow]]:
    store = FeastStore(tmp_path)
    rows: list[FeatureRow] = []
    for b in range(n):  # one file per batch, as the writer does
        batch = [_row(f"u{u}", 100 + b * 5, float(b + u), 1_000 + b) for u in range(3)]
        store.write_offline(batch)
        rows += batch
    return store, rows


def _files(view_dir: Path) -> list[Path]:
    return sorted(p for p in view_dir.glob("*.parquet") if not p.name.startswith("."))


def _read(view_dir: Path) -> list[tuple[str, int, int, float, float]]:
    out = []
    for path in _files(view_dir):
        t = pq.read_table(path).to_pylist()
        for r in t:
            out.append((r[JOIN_KEY], round(r[EVENT_TIMESTAMP_COLUMN].timestamp() * 1000),
                        round(r[CREATED_COLUMN].timestamp() * 1000), r["event_count_1h"],
                        r["amount_sum_1h"]))
    return sorted(out)


def _expected(rows: list[FeatureRow]) -> list[tuple[str, int, int, float, float]]:
    return sorted((r.user_id, r.window_end_ms, r.emitted_ms, r.values["event_count_1h"],
                   r.values["amount_sum_1h"]) for r in rows)


def test_small_files_merge_into_one_with_every_row(tmp_path: Path) -> None:
    store, rows = _batches(tmp_path, 40)
    view_dir = store.offline_dir / VIEW
    assert len(_files(view_dir)) == 40
    result = compact_view(view_dir, min_files=32)
    assert (result.inputs, result.outputs, result.rows_in, result.rows_out) == (40, 1, 120, 120)
    files = _files(view_dir)
    assert len(files) == 1 and files[0].name.startswith("compact-")
    assert _read(view_dir) == _expected(rows)
    table = pq.read_table(files[0])
    assert table.schema.pandas_metadata is None or not table.schema.pandas_metadata.get(
        "index_columns")  # no pandas index, as the writer writes
    assert table.schema.field("event_count_1h").type == "int64"
    ends = table.column(EVENT_TIMESTAMP_COLUMN).to_pylist()
    assert ends == sorted(ends)


def test_a_windows_newest_emission_wins_and_exact_replays_collapse(tmp_path: Path) -> None:
    store, rows = _batches(tmp_path, 3)
    store.write_offline(rows[:3])  # a replayed batch: identical rows again
    restated = _row("u0", 100, 42.0, 9_999)  # the same window, emitted later
    store.write_offline([restated])
    view_dir = store.offline_dir / VIEW
    result = compact_view(view_dir, min_files=2)
    assert (result.rows_in, result.rows_out) == (13, 9)
    expected = _expected([restated] + [r for r in rows if (r.user_id, r.window_end_ms)
                                       != ("u0", 100 * MIN)])
    assert _read(view_dir) == expected


def test_a_crash_before_the_deletes_heals_at_the_next_run(tmp_path: Path) -> None:
    store, rows = _batches(tmp_path, 5)
    view_dir = store.offline_dir / VIEW
    inputs = {p: p.read_bytes() for p in _files(view_dir)}
    compact_view(view_dir, min_files=2)
    for path, data in inputs.items():  # as if the process died before unlinking them
        path.write_bytes(data)
    assert len(_read(view_dir)) == 2 * len(rows)
    compact_view(view_dir, min_files=2)
    assert len(_files(view_dir)) == 1
    assert _read(view_dir) == _expected(rows)


def test_too_few_files_big_files_and_a_busy_lock_are_left_alone(tmp_path: Path) -> None:
    store, rows = _batches(tmp_path, 4)
    view_dir = store.offline_dir / VIEW
    before = _files(view_dir)
    assert compact_view(view_dir, min_files=5).inputs == 0
    size = min(p.stat().st_size for p in before)
    assert compact_view(view_dir, min_files=2, target_bytes=size).inputs == 0  # none smaller
    fd = os.open(view_dir / LOCK, os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another compactor holds the view
        assert compact_view(view_dir, min_files=2).inputs == 0
    finally:
        os.close(fd)
    assert _files(view_dir) == before
    assert compact_view(view_dir, min_files=2).outputs == 1
    assert _read(view_dir) == _expected(rows)


def test_groups_stay_under_the_target_size(tmp_path: Path) -> None:
    store, rows = _batches(tmp_path, 12)
    view_dir = store.offline_dir / VIEW
    size = max(p.stat().st_size for p in _files(view_dir))
    result = compact_view(view_dir, min_files=2, target_bytes=4 * size + 1)
    assert result.inputs == 12 and result.outputs == 3
    assert _read(view_dir) == _expected(rows)


def test_the_writers_thread_compacts_every_interval_until_stopped(tmp_path: Path) -> None:
    import threading
    import time

    from features.compact import run_every
    from mlmesh.common.lifecycle import StopSignal

    store, rows = _batches(tmp_path, 3)
    view_dir = store.offline_dir / VIEW
    stop = StopSignal()
    thread = threading.Thread(target=run_every, args=(store.offline_dir, 0.05, stop),
                              kwargs={"min_files": 2}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while len(_files(view_dir)) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    store.write_offline([_row("u9", 500, 1.0, 5)])  # a new batch is merged at a later pass
    while len(_files(view_dir)) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert _read(view_dir) == _expected([*rows, _row("u9", 500, 1.0, 5)])


def test_tile_deltas_keep_every_delta_once_per_kafka_position(tmp_path: Path) -> None:
    from features.tile_store import TileStore
    from features.tiles import DELTA_VIEW, Delta

    store = FeastStore(tmp_path)
    tiles = TileStore(store, 300_000)
    deltas = [Delta(f"u{i % 2}", 60_000, {"events": 1.0, "amount": float(i)}, 60_500, 60_500,
                    0, i, 1_000 + i) for i in range(6)]  # same user and event time, 3 each
    for d in deltas:
        tiles._write_offline([d])
    tiles._write_offline(deltas[2:4])  # a writer replay
    view_dir = store.offline_dir / DELTA_VIEW
    done = compact_view(view_dir, min_files=2)
    assert done.inputs == 7 and done.rows_in == 8 and done.rows_out == 6
    table = pq.read_table(_files(view_dir)[0]).to_pandas()
    assert sorted(table["kafka_offset"]) == list(range(6))
    assert sorted(table["amount"]) == [float(i) for i in range(6)]
