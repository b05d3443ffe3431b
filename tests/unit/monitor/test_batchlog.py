from __future__ import annotations

from mlmesh.testing.monitor import MemoryTable
from monitor.state import BatchLog


def test_sources_with_same_partition_and_offset_do_not_overwrite() -> None:
    table = MemoryTable()
    log = BatchLog(table, "seen", ttl=600.0)
    log.put("predictions:r1", "0:0", "predictions|0", 0, 1000.0)
    log.put("embeddings:d1", "0:0", "embeddings|0", 0, 1000.0)
    log.flush()
    assert len(table) == 2
    restored = BatchLog(table, "seen", ttl=600.0)  # a restart: index rebuilt from the table
    assert restored.get("predictions:r1", 1000.0) == "0:0"
    assert restored.get("embeddings:d1", 1000.0) == "0:0"


def test_first_and_last_semantics_and_expiry() -> None:
    table = MemoryTable()
    first = BatchLog(table, "seen", ttl=100.0, keep="first")
    last = BatchLog(table, "last", ttl=100.0, keep="last")
    for off in (5, 9):
        first.put("k", f"p:{off}", "t|0", off, 50.0)
        last.put("u", [0.1 * off, "v1"], "t|0", off, 50.0)
    first.flush()
    last.flush()
    assert first.get("k", 60.0) == "p:5"
    assert last.get("u", 60.0) == [0.9, "v1"]
    again = BatchLog(table, "last", ttl=100.0, keep="last")
    assert again.get("u", 60.0) == [0.9, "v1"]
    assert first.get("k", 250.0) is None  # older than the previous window
    first.prune(1000.0)
    assert first.index == {}


def test_compaction_keeps_the_table_proportional_to_live_keys() -> None:
    """100 users, 20,000 predictions: the table keeps about the live entries,
    and a restart from it answers what the live index answers."""
    table = MemoryTable()
    log = BatchLog(table, "last", ttl=3600.0, keep="last", compact_min=1_000, chunk=40)
    for off in range(20_000):
        log.put(f"u{off % 100}", [off, "v1"], "preds|0", off, 1000.0)
        if off % 250 == 249:
            log.flush()
    log.flush()
    entries = sum(len(v) for v in table.values())
    assert entries <= 1_000 + 100 + 250  # threshold + one snapshot + one batch
    assert any("|#" in k[0] for k in table)
    restored = BatchLog(table, "last", ttl=3600.0, keep="last")
    for user in range(100):
        assert restored.get(f"u{user}", 1000.0) == log.get(f"u{user}", 1000.0)
        assert restored.get(f"u{user}", 1000.0) == [19_900 + user, "v1"]
