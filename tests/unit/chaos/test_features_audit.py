"""The features part of the audit: exactly-once over the offline tile deltas
(replayed rows counted once, conflicting copies and miscounts reported per
user), the value comparison, the Parquet contract with the writer, and one
round trip through real Feast (online tiles, offline point-in-time values)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tiles_cases import MIN, T0, deltas_of

from features.store import FeastStore
from features.tile_store import TileStore
from mlmesh.chaos import reference as ref
from mlmesh.chaos.checks import Check
from mlmesh.chaos.features_audit import audit_features, compare_values, count_checks
from mlmesh.chaos.stores import DeltaRow, offline_deltas

GAP_S = 300


def _events() -> list[ref.Event]:
    return [ref.Event("a", "u1", T0 + 10_000, 4, 3.5), ref.Event("b", "u1", T0 + 3 * MIN, 1, 1.0),
            ref.Event("c", "u1", T0 + 20 * MIN, 2, 0.25), ref.Event("d", "u2", T0 + 50_000, 5, 0.0)]


def _docs() -> list[ref.Doc]:
    return [ref.Doc("d1", "u2", T0 + 55_000), ref.Doc("d2", "u3", T0 + 2 * MIN)]


def _rows(state_dir: Path) -> list[DeltaRow]:
    """The deltas as the writer appends them, read back by the audit's reader."""
    feast = FeastStore(state_dir)
    TileStore(feast, GAP_S * 1000)._write_offline(deltas_of([*_events(), *_docs()]))
    return offline_deltas(state_dir)


def test_the_offline_reader_reads_what_the_writer_appends(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    assert [(r.user_id, r.position) for r in rows] == [
        ("u1", (0, 0)), ("u1", (0, 1)), ("u1", (0, 2)), ("u2", (0, 3)), ("u2", (0, 4)),
        ("u3", (0, 5))]
    assert rows[0].values["events"] == 1 and rows[0].values["purchase"] == 1
    assert rows[0].values["amount"] == 3.5 and rows[0].tile_start == T0
    assert rows[4].values["docs"] == 1 and rows[4].min_ts == rows[4].max_ts == T0 + 55_000
    assert rows[0].created_ms == T0 + 10_500


def test_replayed_rows_count_once_and_miscounts_are_per_user(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    logs = ref.per_user(_events(), _docs())
    checks, figures = count_checks(logs, [*rows, rows[1], rows[4]])  # a writer replay
    assert all(c.ok for c in checks), [c.mismatches for c in checks]
    events, docs, replays = checks
    assert (events.expected, events.observed) == (4, 4)
    assert (docs.expected, docs.observed) == (2, 2)
    assert figures["features_delta_rows"] == 8 and figures["features_delta_copies"] == 2
    # a copy of a delta with other values; an event never counted; a stranger's delta
    bad = dataclasses.replace(rows[0], values={**rows[0].values, "events": 2.0})
    stranger = dataclasses.replace(rows[5], user_id="u9", offset=9,
                                   values={**rows[5].values, "events": 1.0, "docs": 0.0})
    zz = dataclasses.replace(stranger, user_id="zz-flush", offset=10)
    checks, _ = count_checks(logs, [*rows[:2], *rows[3:], bad, stranger, zz], ("zz-",))
    events, docs, replays = checks
    assert events.mismatches == [
        "user u1: features count 2 events (offline deltas, each once), 3 unique accepted",
        "user u9: features count 1 events (offline deltas, each once), 0 unique accepted"]
    assert docs.ok
    assert len(replays.mismatches) == 1 and "partition 0 offset 0" in replays.mismatches[0]


def test_compare_values_names_the_user_the_time_and_the_feature() -> None:
    check = Check("values", 3, 0)
    want = {("u1", T0): {"event_count_5m": 2.0}, ("u1", T0 + MIN): {"event_count_5m": 0.0},
            ("u2", T0): {"event_count_5m": 1.0}}
    compare_values(check, want, {("u1", T0): {"event_count_5m": 2.0},
                                 ("u1", T0 + MIN): {"event_count_5m": 1.0}},
                   {"u1": T0, "u2": T0}, "tiles online")
    assert check.observed == 1
    assert check.mismatches == [
        f"user u1 t={T0 + MIN} (newest +60000 ms): event_count_5m: expected 0.0, got 1.0 "
        "(tiles online)", f"user u2 t={T0} (newest +0 ms): no tiles online"]


def test_round_trip_through_feast(tmp_path: Path) -> None:
    pytest.importorskip("feast")
    feast = FeastStore(tmp_path)
    feast.open()  # applies the definitions, as the writer does
    tiles = TileStore(feast, GAP_S * 1000)
    deltas = deltas_of([*_events(), *_docs()], per_emission=2)
    tiles.write(deltas[:3])
    tiles.write(deltas)  # a replay of the first three: skipped online, appended offline again
    tiles._write_offline(deltas[:2])  # appended again (a crash before the commit)
    now = T0 + 30 * MIN
    checks, figures = audit_features(tmp_path, GAP_S, _events(), _docs(), now_ms=now)
    by_name = {c.name: c for c in checks}
    assert all(c.ok for c in checks), {c.name: c.mismatches or c.skipped for c in checks}
    assert by_name["features online (Feast) = reference"].observed == 6  # 3 users x 2 times
    assert by_name["features offline (Feast) = online"].observed == 6
    assert figures["features_users_online"] == 3 and figures["features_delta_copies"] == 3 + 2
    # the audit expects an event the features never saw: counted, online both fail
    extra = [*_events(), ref.Event("e", "u1", T0 + 20 * MIN + 1, 1, 1.0)]
    checks, _ = audit_features(tmp_path, GAP_S, extra, _docs(), now_ms=now)
    failed = {c.name for c in checks if not c.ok}
    assert failed == {"events counted once by features", "features online (Feast) = reference"}
