"""The online write's newest-window rule reads a user's stored window end
from the store once, then from what it wrote; the cache is bounded, can be
forgotten (a rebalance) and switched off. Feast's provider is an in-memory
fake here; tests/integration/features/test_window_end_cache_feast.py runs the
rule on real Feast."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from features.catalog import VIEWS
from features.store import FeastStore, FeatureRow

VIEW = "user_activity_1h"
HOUR = 3_600_000


class FakeProvider:
    """Feast's provider calls FeastStore makes, on a dict."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], int] = {}  # (view, user) -> window end ms
        self.reads: list[list[str]] = []
        self.writes: list[list[tuple[str, int]]] = []

    def online_read(self, _config: Any, view: str, keys: list[Any],
                    _features: list[str]) -> list[tuple[datetime | None, Any]]:
        users = [k.entity_values[0].string_val for k in keys]
        self.reads.append(users)
        out: list[tuple[datetime | None, Any]] = []
        for u in users:
            ms = self.stored.get((view, u))
            out.append((None, None) if ms is None else
                       (datetime.fromtimestamp(ms / 1000, tz=timezone.utc), {}))
        return out

    def online_write_batch(self, _config: Any, view: str, rows: list[Any],
                           _progress: Any) -> None:
        batch = []
        for key, _values, ts, _created in rows:
            user = key.entity_values[0].string_val
            self.stored[(view, user)] = int(ts.timestamp() * 1000)
            batch.append((user, int(ts.timestamp() * 1000)))
        self.writes.append(batch)


class FakeFeast:
    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        self.config = None


def _store(tmp_path: Path, provider: FakeProvider, cache: int = 100) -> FeastStore:
    st = FeastStore(tmp_path, window_end_cache=cache)
    st._store = FakeFeast(provider)
    st._views = {name: name for name in VIEWS}
    return st


def _row(user: str, end_ms: int, emitted: int = 1) -> FeatureRow:
    return FeatureRow(user, VIEW, end_ms - HOUR, end_ms, {"event_count_1h": 1.0}, end_ms + emitted)


def test_each_user_is_read_once_then_known_from_the_writes(tmp_path: Path) -> None:
    p = FakeProvider()
    st = _store(tmp_path, p)
    assert st.write_online([_row("a", 2 * HOUR), _row("b", 2 * HOUR)]) == 2
    assert st.write_online([_row("a", 3 * HOUR), _row("b", 3 * HOUR), _row("c", 3 * HOUR)]) == 3
    assert st.write_online([_row("a", 4 * HOUR), _row("c", 4 * HOUR)]) == 2
    assert [sorted(r) for r in p.reads] == [["a", "b"], ["c"]]
    assert p.stored == {(VIEW, "a"): 4 * HOUR, (VIEW, "b"): 3 * HOUR, (VIEW, "c"): 4 * HOUR}


def test_a_known_newer_window_keeps_an_older_result_out(tmp_path: Path) -> None:
    p = FakeProvider()
    st = _store(tmp_path, p)
    st.write_online([_row("a", 3 * HOUR)])
    assert st.write_online([_row("a", 2 * HOUR)]) == 0  # a replay: not read, not written
    assert len(p.reads) == 1 and p.stored[(VIEW, "a")] == 3 * HOUR
    assert st.write_online([_row("a", 3 * HOUR, emitted=5)]) == 1  # same window, restated


def test_a_stored_window_read_once_still_rules_later_batches(tmp_path: Path) -> None:
    p = FakeProvider()
    p.stored[(VIEW, "a")] = 5 * HOUR  # written before this writer started
    st = _store(tmp_path, p)
    assert st.write_online([_row("a", 4 * HOUR)]) == 0
    assert st.write_online([_row("a", 4 * HOUR, emitted=9)]) == 0
    assert len(p.reads) == 1 and p.stored[(VIEW, "a")] == 5 * HOUR


def test_forgetting_reads_the_store_again(tmp_path: Path) -> None:
    p = FakeProvider()
    st = _store(tmp_path, p)
    st.write_online([_row("a", 2 * HOUR)])
    p.stored[(VIEW, "a")] = 6 * HOUR  # another writer owned the partition meanwhile
    st.forget_window_ends()
    assert st.write_online([_row("a", 3 * HOUR)]) == 0
    assert p.stored[(VIEW, "a")] == 6 * HOUR
    assert len(p.reads) == 2


@pytest.mark.parametrize("cache", [0, 2])
def test_a_small_or_no_cache_never_lets_an_older_window_in(tmp_path: Path, cache: int) -> None:
    p = FakeProvider()
    for u in "abcde":
        p.stored[(VIEW, u)] = 5 * HOUR
    st = _store(tmp_path, p, cache=cache)
    for _ in range(3):  # a batch wider than the cache, then the same users again
        assert st.write_online([_row(u, 4 * HOUR) for u in "abcde"]) == 0
    assert all(ms == 5 * HOUR for ms in p.stored.values())
    assert st.write_online([_row(u, 6 * HOUR) for u in "abcde"]) == 5
    if cache:
        assert len(st._ends[VIEW]) == cache
    else:
        assert len(p.reads) == 4 and not st._ends
