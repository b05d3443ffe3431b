"""A batch's delivery reports give the same statuses, errors, partitions and
offsets with the C Deliveries as with the Python Outcome.ack, and ``done`` is
set exactly when the last record is counted."""

from __future__ import annotations

import random
import shutil
import threading

import pytest
from confluent_kafka import KafkaError

import ingest.publisher
from ingest.publisher import ACCEPTED, PENDING, THROTTLED, Outcome

if ingest.publisher.Deliveries is None:
    pytestmark = pytest.mark.skipif(
        shutil.which("cc") is None and shutil.which("gcc") is None,
        reason="no C compiler here: the Python Outcome.ack runs")


class Msg:
    def __init__(self, partition: int | None, offset: int | None) -> None:
        self._p, self._o = partition, offset

    def partition(self) -> int | None:
        return self._p

    def offset(self) -> int | None:
        return self._o


def replay(events: list[tuple[str, int]], n: int, native: bool,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Outcome, list[int]]:
    """Feed the same reports to an Outcome; record how many were in when done was set."""
    with monkeypatch.context() as m:
        if not native:
            m.setattr(ingest.publisher, "Deliveries", None)
        else:
            assert ingest.publisher.Deliveries is not None, "run `make setup` (C build)"
        out = Outcome(n)
    done_at: list[int] = []
    for step, (what, i) in enumerate(events, 1):
        if what == "ok":
            out.slot(i)(None, Msg(i % 5 or None, 1000 + i if i % 7 else None))
        elif what == "err":
            out.slot(i)(KafkaError(KafkaError._MSG_TIMED_OUT), Msg(0, 0))
        else:
            out.settle()
        if out.done.is_set() and not done_at:
            done_at.append(step)
    return out, done_at


@pytest.mark.parametrize("seed", range(20))
def test_c_and_python_reports_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    events = [(rng.choice(["ok", "ok", "ok", "err", "settle"]), i) for i in range(n)]
    rng.shuffle(events)
    c, c_done = replay(events, n, True, monkeypatch)
    py, py_done = replay(events, n, False, monkeypatch)
    assert (c.statuses, c.errors, c.partitions, c.offsets) == (
        py.statuses, py.errors, py.partitions, py.offsets)
    assert c_done == py_done == [n]
    kinds = {what for what, _ in events}
    assert (ACCEPTED in c.statuses) == ("ok" in kinds)
    assert (THROTTLED in c.statuses) == ("err" in kinds)
    assert all(s == PENDING for (what, i), s in
               zip(sorted(events, key=lambda e: e[1]), c.statuses, strict=True)
               if what == "settle")
    assert any(e.startswith("kafka delivery failed: ") for e in c.errors) == ("err" in kinds)


def test_reports_from_two_threads_count_each_record_once() -> None:
    n = 20_000
    out = Outcome(n)
    slots = [out.slot(i) for i in range(n)]

    def serve(part: list[int]) -> None:
        for i in part:
            slots[i](None, Msg(1, i))

    threads = [threading.Thread(target=serve, args=(list(range(k, n, 2)),)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out.done.is_set() and out.statuses.count(ACCEPTED) == n
    assert out.offsets == list(range(n))


def test_a_slot_outside_the_batch_is_refused() -> None:
    if ingest.publisher.Deliveries is None:
        pytest.skip("the C Deliveries is not built")
    out = Outcome(3)
    with pytest.raises(IndexError):
        out.slot(3)
    with pytest.raises(TypeError):
        out.slot(0)(None)
