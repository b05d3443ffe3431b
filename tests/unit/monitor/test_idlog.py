"""The monitor's bounded de-duplication memory (monitor.idlog)."""

from __future__ import annotations

import random

from mlmesh.testing.monitor import MemoryTable
from monitor.idlog import IdLog, position


def test_first_position_wins_across_merges_and_restart() -> None:
    table = MemoryTable()
    log = IdLog(table, "seen", ttl=600.0, merge_at=64)  # many merges into the sorted arrays
    ids = [f"predictions:r{i}" for i in range(1000)]
    for i, key in enumerate(ids):
        assert log.first_seen(key, position(i % 3, i), f"predictions|{i % 3}", 1000.0) is None
        if i % 100 == 99:
            log.flush()
    log.flush()
    for i, key in enumerate(ids):
        assert log.get(key, 1000.0) == position(i % 3, i)
        # a second record of the id, elsewhere: reported at the first one's position
        assert log.first_seen(key, position(5, 10**6 + i), "predictions|5", 1000.0) == (
            position(i % 3, i))
    assert log.get("predictions:unknown", 1000.0) is None
    restored = IdLog(table, "seen", ttl=600.0)  # a restart: the index rebuilt from the table
    assert all(restored.get(key, 1000.0) == position(i % 3, i) for i, key in enumerate(ids))
    assert len(restored) == len(ids)


def test_same_id_in_another_kind_is_another_key() -> None:
    log = IdLog(MemoryTable(), "seen", ttl=600.0)
    log.first_seen("predictions:x", position(0, 1), "predictions|0", 10.0)
    assert log.get("labels:x", 10.0) is None
    assert log.get("predictions:x", 10.0) == position(0, 1)


def test_expiry_and_prune() -> None:
    log = IdLog(MemoryTable(), "seen", ttl=100.0)
    log.first_seen("k", 7, "t|0", 50.0)  # window [0, 100)
    assert log.get("k", 150.0) == 7  # the previous window is still remembered
    assert log.get("k", 250.0) is None  # older than the previous window
    log.prune(250.0)
    assert log.windows == {}


def test_memory_is_bounded_per_id() -> None:
    """16 bytes an id in the index and 16 in the table record once merged."""
    table = MemoryTable()
    log = IdLog(table, "seen", ttl=600.0, merge_at=10_000)
    rng = random.Random(1)
    n = 100_000
    for i in range(n):
        key = f"predictions:{rng.getrandbits(64):x}"
        assert log.first_seen(key, position(0, i), "predictions|0", 1000.0) is None
        if i % 2000 == 1999:
            log.flush()
    log.flush()
    for w in log.windows.values():
        w.merge()
    assert len(log) == n
    assert log.nbytes() == 16 * n
    assert sum(len(v) for v in table.values()) == 16 * n
