"""The tiles job (real Kafka, real Flink, the real writer loop, real Feast):
what inference reads as of chosen times equals the plain-Python statement of
the definition, through a SIGKILL and restart of the job; a writer replay
changes nothing; online and offline agree; bad and too-late input reach the
DLQ with the reason."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from features_reference import Ev as WEv
from features_scenario import dead_letters, event_bytes, producer, send, wait_for
from tiles_reference import HOUR, MIN, reference
from tiles_scenario import GAP_S, TilesRun, Writer, run_tiles

from features import offline
from features.tiles import DAY_MS
from inference.features import FeastOnlineReader

pytestmark = pytest.mark.integration
AFTER = (0, 1, 30_000, 4 * MIN, 6 * MIN, GAP_S * 1000 + 1, 59 * MIN, HOUR + MIN, DAY_MS + HOUR)


@pytest.fixture(scope="module")
def tiles_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[TilesRun]:
    run = run_tiles(kafka_bootstrap, Path(tmp_path_factory.mktemp("tiles")))
    yield run
    run.writer.close()


@pytest.fixture(scope="module")
def reader(tiles_run: TilesRun) -> FeastOnlineReader:
    return FeastOnlineReader(tiles_run.feast.open(apply=False))


def test_served_values_equal_the_definition_after_kill_and_restart(
        tiles_run: TilesRun, reader: FeastOnlineReader) -> None:
    s = tiles_run.stream
    assert tiles_run.restored, "the job did not restore from its checkpoint"
    assert s.duplicates > 0
    for user, arrivals in s.arrivals.items():
        newest = s.newest(user)
        for after in AFTER:
            t = newest + after
            fv = reader.read(user, at_ms=t)
            assert not fv.defaulted, (user, fv.defaulted)
            want = reference(arrivals, t, GAP_S * 1000)
            assert fv.values == pytest.approx(want), (user, after)
    busy = {u: reader.read(u, at_ms=s.newest(u)).values["amount_sum_1h"] for u in s.arrivals}
    assert len(set(busy.values())) > 1, "every user got the same values"


def test_a_writer_replay_changes_nothing(tiles_run: TilesRun, reader: FeastOnlineReader) -> None:
    s = tiles_run.stream
    before = {u: reader.read(u, at_ms=s.newest(u)).values for u in s.arrivals}
    consumed = tiles_run.writer.loop.stats.consumed
    # a second writer from the start of the topic (a crash before any commit)
    again = Writer(tiles_run.bootstrap, tiles_run.topics.out, tiles_run.feast)
    try:
        wait_for(lambda: again.loop.stats.consumed >= consumed, 120, "the replay")
    finally:
        again.close()
    after = {u: reader.read(u, at_ms=s.newest(u)).values for u in s.arrivals}
    assert after == before


def test_online_equals_offline_for_the_same_times(tiles_run: TilesRun,
                                                  reader: FeastOnlineReader) -> None:
    s = tiles_run.stream
    rows = [(u, s.newest(u) + after) for u in s.arrivals for after in AFTER]
    offline_values = offline.historical(tiles_run.feast, rows, GAP_S * 1000)
    for (user, t), got in zip(rows, offline_values, strict=True):
        assert got == reader.read(user, at_ms=t).values, (user, t - s.newest(user))


def test_bad_and_too_late_input_reach_the_dlq(tiles_run: TilesRun) -> None:
    letters = dead_letters(tiles_run.bootstrap, tiles_run.topics.events + ".dlq")
    classes = {d.error_class for d in letters}
    assert "late_event" in classes and ({"decode", "validation"} & classes), classes
    late = [d for d in letters if d.error_class == "late_event"]
    assert [d.record_id for d in late] == [tiles_run.late.id]
    assert "retention" in late[0].reason, late[0].reason


def test_a_quiet_topic_holds_nothing_back(tiles_run: TilesRun,
                                          reader: FeastOnlineReader) -> None:
    """One event on one partition, the others idle: served within seconds."""
    from tiles_scenario import tiles_job

    from mlmesh.localstack.flink import FlinkJobComponent  # noqa: F401  (job is stopped)

    comp = tiles_job(tiles_run.state, tiles_run.bootstrap, tiles_run.topics)
    comp.start(timeout=240)
    try:
        user = f"quiet-{uuid.uuid4().hex[:6]}"
        now = int(time.time() * 1000)
        p = producer(tiles_run.bootstrap)
        send(p, tiles_run.topics, [("events", user, event_bytes(WEv("q1", user, now, 4, 5.0)),
                                    now)], partition=0)
        wait_for(lambda: reader.read(user).values["purchase_count_5m"] == 1, 60,
                 "the quiet user's event served")
    finally:
        comp.stop()
