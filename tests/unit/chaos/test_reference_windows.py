"""The audit's own window arithmetic, on cases small enough to check by hand."""

from __future__ import annotations

from mlmesh.chaos import reference as ref

MIN = 60_000
T0 = 1_700_000_000_000 // (24 * 60 * MIN) * (24 * 60 * MIN)  # a whole day


def test_window_ends_cover_exactly_the_windows_holding_ts() -> None:
    ends = list(ref.window_ends(T0 + 90_000, 5 * MIN, MIN))  # 00:01:30
    assert ends == [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN, T0 + 5 * MIN, T0 + 6 * MIN]
    for e in ends:
        assert e - 5 * MIN <= T0 + 90_000 < e
    # an event on a boundary belongs to the window starting there, not the one ending there
    assert T0 + MIN not in ref.window_ends(T0 + MIN, 5 * MIN, MIN)
    assert T0 + 2 * MIN in ref.window_ends(T0 + MIN, 5 * MIN, MIN)


def test_five_minute_features_and_zero_row() -> None:
    evs = [ref.Event("a", "u1", T0 + 10_000, 4, 10.5), ref.Event("b", "u1", T0 + 20_000, 1, 0.0)]
    rows = ref.sliding_features(evs)
    first = rows[("u1", "user_activity_5m", T0 + MIN)]
    assert first["event_count_5m"] == 2 and first["amount_sum_5m"] == 10.5
    assert first["amount_mean_5m"] == 5.25 and first["distinct_actions_5m"] == 2
    assert first["purchase_count_5m"] == 1 and first["view_count_5m"] == 1
    # windows ending 1..5 min hold both events; the one ending at 6 min is the zero row
    assert sorted(e for (u, v, e) in rows if v == "user_activity_5m") == [
        T0 + k * MIN for k in range(1, 7)]
    assert set(rows[("u1", "user_activity_5m", T0 + 6 * MIN)].values()) == {0.0}
    assert sum(v["event_count_5m"] for (_, view, _), v in rows.items()
               if view == "user_activity_5m") / 5 == 2


def test_sessions_split_on_gap_and_count_the_last_day() -> None:
    gap = 300
    evs = [ref.Event(str(i), "u", T0 + t, 1, 0.0)
           for i, t in enumerate([0, 1_000, 2_500, 400_000, 401_000])]
    rows = ref.session_features(evs, gap)
    ends = sorted(e for (_, _, e) in rows)
    assert ends == [T0 + 2_500 + 300_000, T0 + 401_000 + 300_000]
    a, b = (rows[("u", ref.SESSIONS, e)] for e in ends)
    assert a == {"session_count_24h": 1.0, "last_session_length_s": 2.5,
                 "last_session_event_count": 3.0}
    assert b["session_count_24h"] == 2.0 and b["last_session_event_count"] == 2.0


def test_documents_count_distinct_ids() -> None:
    docs = [ref.Doc("d1", "u", T0 + 1_000), ref.Doc("d1", "u", T0 + 2_000),
            ref.Doc("d2", "u", T0 + 3_000)]
    rows = ref.document_features(docs)
    assert rows[("u", "user_documents_1h", T0 + 5 * MIN)] == {"doc_count_1h": 2.0}
    assert rows[("u", "user_documents_1h", T0 + 65 * MIN)] == {"doc_count_1h": 0.0}


def test_same_value_is_exact_for_counts_and_tolerant_for_sums() -> None:
    assert ref.same_value("event_count_5m", 3.0, 3)
    assert not ref.same_value("event_count_5m", 3.0, 4)
    assert ref.same_value("amount_sum_5m", 0.1 + 0.2, 0.3)
    assert not ref.same_value("amount_sum_5m", 1.0, 1.0001)
