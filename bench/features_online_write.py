"""The feature writer's online write against Feast's own writes, in one
process on one SQLite store: 1,000 rows per call, per view, alternating the
paths. Each path applies the newest-window rule, which needs every user's
stored window end:

* ``writer_ms``: the writer as it is (its SQLite write, ``sqlite_online``; a
  user's stored window end read once, then known from its own writes);
* ``writer_uncached_ms``: the same with ``window_end_cache=0`` (read every call);
* ``feast_write_batch_ms``: the window ends read every call and the rows through
  Feast's ``SqliteOnlineStore.online_write_batch`` (the writer until 2026-12-02);
* ``feast_dataframe_ms``: the window ends through ``get_online_features``, the
  rows through ``write_to_online_store`` (DataFrame -> Arrow -> protos), as
  the writer did before that.

Part of ``bench/features.py``."""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROWS = 1000
REPS = 8  # per path and view; the first two are warm-up


def _rows(view: str, start_ms: int) -> list[Any]:
    from features.catalog import VIEWS
    from features.store import FeatureRow

    spec = VIEWS[view]
    rng = random.Random(start_ms)
    return [FeatureRow(f"user-{i}", view, start_ms - 60_000, start_ms,
                       {f: float(rng.randint(0, 9)) for f in spec.features}, start_ms + 100)
            for i in range(ROWS)]


def _feast_dataframe_write(store: Any, view: str, rows: list[Any]) -> None:
    """What the writer did before: window ends through get_online_features,
    the rows through write_to_online_store (DataFrame -> Arrow -> protos)."""
    from features.catalog import JOIN_KEY, VIEWS

    first = VIEWS[view].features[0]
    store.open().get_online_features(
        features=[f"{view}:{first}"], entity_rows=[{JOIN_KEY: r.user_id} for r in rows],
    ).to_dict(include_event_timestamps=True)
    store.open().write_to_online_store(view, store._frame(view, rows))


def online_write_ab(views: tuple[str, ...] = ("user_activity_5m", "user_activity_24h",
                                              "user_sessions")) -> dict[str, Any]:
    from features.store import FeastStore

    state = Path(tempfile.mkdtemp(prefix="bench-online-write-"))
    store = FeastStore(state)
    store.open()
    uncached = FeastStore(state, window_end_cache=0)
    uncached.open()
    feast_batch = FeastStore(state, window_end_cache=0)
    feast_batch.open()
    feast_batch._sqlite = None  # Feast's own online_write_batch
    paths: dict[str, Callable[[str, list[Any]], Any]] = {
        "writer_ms": lambda _view, rows: store.write_online(rows),
        "writer_uncached_ms": lambda _view, rows: uncached.write_online(rows),
        "feast_write_batch_ms": lambda _view, rows: feast_batch.write_online(rows),
        "feast_dataframe_ms": lambda view, rows: _feast_dataframe_write(store, view, rows),
    }
    out: dict[str, Any] = {}
    end = 1_764_000_000_000
    try:
        for view in views:
            times: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(REPS):
                for name, write in paths.items():
                    end += 60_000  # a newer window each call: every row is written
                    rows = _rows(view, end)
                    t = time.perf_counter()
                    write(view, rows)
                    times[name].append((time.perf_counter() - t) * 1000)
            out[view] = {k: round(statistics.median(v[2:]), 1) for k, v in times.items()}
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return out
