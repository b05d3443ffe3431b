"""The writer's SQLite online write (one executemany per view) stores exactly
the rows Feast's own ``SqliteOnlineStore.online_write_batch`` stores for the
same input: every column of every row, on a first write (inserts) and on a
second one over it (the upsert), for every view; a configuration with the
columns it does not fill falls back to Feast's write."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from features import sqlite_online
from features.catalog import VIEWS
from features.store import FeastStore, FeatureRow

END_MS = 1_764_000_120_000


def _rows(view: str, shift: int) -> list[FeatureRow]:
    spec = VIEWS[view]
    out = []
    for n in range(25):
        values = {f: float(n * 3 + j + shift) + (0.0 if spec.is_count(f) else 0.5)
                  for j, f in enumerate(spec.features)}
        if n == 4 and not spec.is_count(spec.features[-1]):
            values[spec.features[-1]] = math.nan
        end = END_MS + shift * 60_000 + n * 1_000 + 137
        out.append(FeatureRow(f"user-{n}", view, end - 60_000, end, values, end + 3_250 + n))
    return out


def _table(store: FeastStore, view: str) -> list[tuple[Any, ...]]:
    feast = store.open()
    conn = sqlite3.connect(str(store.root / "online.db"))
    try:
        return conn.execute(
            f'SELECT * FROM "{feast.config.project}_{view}" '
            "ORDER BY entity_key, feature_name").fetchall()
    finally:
        conn.close()


def test_stored_rows_equal_feasts_own_sqlite_write(tmp_path: Path) -> None:
    ours = FeastStore(tmp_path / "ours", window_end_cache=0)
    theirs = FeastStore(tmp_path / "theirs")
    ours.open()
    feast = theirs.open()
    assert ours._sqlite is not None  # the fast path is the one under test
    for shift in (0, 2):  # inserts, then updates of the same keys
        for view in VIEWS:
            rows = _rows(view, shift)
            assert ours.write_online(rows) == len(rows)
            feast.provider.online_write_batch(feast.config, theirs._view(view),
                                              theirs._online_rows(view, rows), None)
    for view in VIEWS:
        got, want = _table(ours, view), _table(theirs, view)
        assert len(got) == 25 * len(VIEWS[view].features)
        assert got == want, view


def test_other_configurations_fall_back_to_feasts_write() -> None:
    def config(**online: Any) -> Any:
        return SimpleNamespace(online_store=SimpleNamespace(**online))

    assert sqlite_online.supports(config(type="sqlite"))
    assert not sqlite_online.supports(config(type="sqlite", vector_enabled=True))
    assert not sqlite_online.supports(config(type="sqlite",
                                             enable_openai_compatible_store=True))
    assert not sqlite_online.supports(config(type="redis"))
