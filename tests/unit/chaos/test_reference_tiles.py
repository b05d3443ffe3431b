"""The audit's own as-of-t arithmetic (``mlmesh.chaos.reference``), on cases
small enough to check by hand, and held against what ``features.tiles``
serves from the deltas the job would emit for the same arrivals."""

from __future__ import annotations

from tiles_cases import MIN, T0, reference, same, served

from mlmesh.chaos import reference as ref

HOUR, DAY = ref.HOUR, ref.DAY
GAP = 30 * MIN


def ev(eid: str, ts: int, action: int = 1, amount: float = 0.0, user: str = "u") -> ref.Event:
    return ref.Event(eid, user, ts, action, amount)


def test_an_out_of_order_pair_counts_both() -> None:
    late_first = [ev("a", T0 + 3 * MIN + 10_000, 4, 10.5), ev("b", T0 + MIN + 20_000, 1, 0.25)]
    t = T0 + 3 * MIN + 10_000
    got = reference(late_first, t, GAP)
    assert got["event_count_5m"] == 2 and got["amount_sum_5m"] == 10.75
    assert got["amount_mean_5m"] == 5.375 and got["distinct_actions_5m"] == 2
    assert got["purchase_count_5m"] == 1 and got["view_count_5m"] == 1
    assert got["event_count_1h"] == got["event_count_24h"] == 2
    assert got["purchase_count_1h"] == got["purchase_count_24h"] == 1
    # one open session: first to last event, none closed yet
    assert got["last_session_length_s"] == 110.0 and got["last_session_event_count"] == 2
    assert got["session_count_24h"] == 0 and got["doc_count_1h"] == 0
    assert same(got, served(late_first, t, GAP))
    # read before the later event: only what happened by t counts
    early = reference(late_first, T0 + 2 * MIN, GAP)
    assert early["event_count_5m"] == 1 and early["view_count_5m"] == 1


def test_a_duplicate_counts_once_with_its_first_arrival() -> None:
    arrivals = [ev("a", T0 + 10_000, 4, 7.0), ev("a", T0 + 10_000, 4, 99.0),
                ev("b", T0 + 20_000, 2, 1.0)]
    t = T0 + 30_000
    got = reference(arrivals, t, GAP)
    assert got["event_count_5m"] == 2 and got["amount_sum_5m"] == 8.0
    assert got["last_session_event_count"] == 2
    assert same(got, served(arrivals, t, GAP, per_emission=2))


def test_a_session_gap_splits_and_a_late_event_bridges() -> None:
    gap = 5 * MIN
    arrivals = [ev("a", T0), ev("b", T0 + MIN), ev("c", T0 + 10 * MIN)]
    at10 = reference(arrivals, T0 + 10 * MIN, gap)
    # [T0, T0+1m] closed at T0+6m; [T0+10m] open
    assert at10["session_count_24h"] == 1
    assert at10["last_session_length_s"] == 0 and at10["last_session_event_count"] == 1
    at16 = reference(arrivals, T0 + 16 * MIN, gap)
    assert at16["session_count_24h"] == 2 and at16["last_session_event_count"] == 1
    for t in (T0 + 10 * MIN, T0 + 16 * MIN):
        assert same(reference(arrivals, t, gap), served(arrivals, t, gap))
    # an event arriving last, 4.5 min from each side: one session of 4 events
    bridged = [*arrivals, ev("d", T0 + 5 * MIN + 30_000)]
    got = reference(bridged, T0 + 16 * MIN, gap)
    assert got["session_count_24h"] == 1 and got["last_session_event_count"] == 4
    assert got["last_session_length_s"] == 600.0
    assert same(got, served(bridged, T0 + 16 * MIN, gap))


def test_an_idle_user_decays_to_zero() -> None:
    arrivals: list[ref.Event | ref.Doc] = [ev("a", T0 + 30_000, 4, 2.5),
                                           ref.Doc("d1", "u", T0 + 40_000)]
    got = reference(arrivals, T0 + 5 * MIN - 1, GAP)  # the whole first tile still in 5m
    assert got["event_count_5m"] == 1 and got["doc_count_1h"] == 1
    got = reference(arrivals, T0 + 5 * MIN, GAP)  # whole tiles at the old edge: gone
    assert got["event_count_5m"] == 0 and got["amount_mean_5m"] == 0
    assert got["distinct_actions_5m"] == 0 and got["event_count_1h"] == 1
    got = reference(arrivals, T0 + HOUR, GAP)
    assert got["event_count_1h"] == 0 and got["doc_count_1h"] == 0
    assert got["event_count_24h"] == 1 and got["session_count_24h"] == 1
    got = reference(arrivals, T0 + DAY, GAP)  # 1-hour tiles: the first hour left out
    assert got["event_count_24h"] == 0 and got["session_count_24h"] == 1
    quiet = T0 + DAY + HOUR
    assert set(reference(arrivals, quiet, GAP).values()) == {0.0}
    for t in (T0 + 5 * MIN - 1, T0 + 5 * MIN, T0 + HOUR, T0 + DAY, quiet):
        assert same(reference(arrivals, t, GAP), served(arrivals, t, GAP))


def test_documents_count_once_per_id_in_the_hour() -> None:
    docs = [ref.Doc("d1", "u", T0 + 1_000), ref.Doc("d1", "u", T0 + 2_000),
            ref.Doc("d2", "u", T0 + 3_000)]
    assert ref.features_at([], docs, T0 + 5 * MIN, GAP)["doc_count_1h"] == 2
    assert ref.features_at([], docs, T0 + HOUR, GAP)["doc_count_1h"] == 0


def test_per_user_logs_and_read_times() -> None:
    logs = ref.per_user([ev("a", T0 + 5, user="u1"), ev("a", T0 + 9, user="u1"),
                         ev("b", T0 + 7, user="u2")], [ref.Doc("d", "u2", T0 + 8)])
    assert [e.ts for e in logs["u1"].events] == [T0 + 5]
    assert logs["u2"].newest_ms == T0 + 8
    assert ref.read_times(T0, T0 + 10) == (T0, T0 + 10)
    assert ref.read_times(T0 + 10, T0) == (T0 + 10,)  # events ahead of the clock


def test_same_value_is_exact_for_counts_and_tolerant_for_sums() -> None:
    assert ref.same_value("event_count_5m", 3.0, 3)
    assert not ref.same_value("event_count_5m", 3.0, 4)
    assert not ref.same_value("event_count_5m", 3.0, 3.2)
    assert ref.same_value("amount_sum_5m", 0.1 + 0.2, 0.3)
    assert not ref.same_value("amount_sum_5m", 1.0, 1.0001)
    assert ref.first_difference({"event_count_5m": 1.0}, {"event_count_5m": 2.0}) == \
        "event_count_5m: expected 1.0, got 2.0"
