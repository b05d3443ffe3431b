"""The feature writer's online write against Feast's own DataFrame write, in
one process on one SQLite store: 1,000 rows per call, per view, alternating
the two paths (both read the stored window ends first, as the writer's
newest-window rule does). Part of ``bench/features.py``."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
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

    store = FeastStore(Path(tempfile.mkdtemp(prefix="bench-online-write-")))
    store.open()
    out: dict[str, Any] = {}
    end = 1_764_000_000_000
    for view in views:
        times: dict[str, list[float]] = {"writer_ms": [], "feast_dataframe_ms": []}
        for _ in range(REPS):
            for name in times:
                end += 60_000  # a newer window each call: every row is written
                rows = _rows(view, end)
                t = time.perf_counter()
                if name == "writer_ms":
                    store.write_online(rows)
                else:
                    _feast_dataframe_write(store, view, rows)
                times[name].append((time.perf_counter() - t) * 1000)
        out[view] = {k: round(statistics.median(v[2:]), 1) for k, v in times.items()}
    return out
