"""The tests' independent reference computation, checked on hand-made cases."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "integration" / "features"))

from features_reference import (
    HOUR,
    MIN,
    Ev,
    latest_before,
    sessions,
    sliding,
)


def test_sliding_5m_windows_and_zero_row() -> None:
    evs = [Ev("a", "u", 30_000, 4, 10.0), Ev("b", "u", 90_000, 1, 20.0)]
    out = sliding("user_activity_5m", evs, watermark=10 * MIN)
    ends = sorted(k[2] for k in out)
    assert ends == [m * MIN for m in range(1, 8)]  # 1..6 non-empty, 7 = zero row
    assert out[("u", "user_activity_5m", 2 * MIN)]["event_count_5m"] == 2.0
    assert out[("u", "user_activity_5m", 2 * MIN)]["amount_mean_5m"] == 15.0
    assert out[("u", "user_activity_5m", MIN)]["purchase_count_5m"] == 1.0
    assert out[("u", "user_activity_5m", 6 * MIN)]["event_count_5m"] == 1.0
    assert not any(out[("u", "user_activity_5m", 7 * MIN)].values())


def test_windows_not_closed_by_the_watermark_are_left_out() -> None:
    out = sliding("user_activity_1h", [Ev("a", "u", 0, 1, 1.0)], watermark=5 * MIN - 2)
    assert out == {}
    out = sliding("user_activity_1h", [Ev("a", "u", 0, 1, 1.0)], watermark=5 * MIN - 1)
    assert list(out) == [("u", "user_activity_1h", 5 * MIN)]


def test_sessions_split_on_gap_and_count_24h() -> None:
    gap = 5 * MIN
    evs = [Ev("a", "u", 0, 1, 0.0), Ev("b", "u", 60_000, 1, 0.0),
           Ev("c", "u", 60_000 + gap, 1, 0.0), Ev("d", "u", 30 * HOUR, 1, 0.0)]
    out = sessions(evs, gap, watermark=40 * HOUR)
    assert [v["last_session_event_count"] for _, v in sorted(out.items())] == [2.0, 1.0, 1.0]
    assert [v["session_count_24h"] for _, v in sorted(out.items())] == [1.0, 2.0, 1.0]
    assert out[("u", "user_sessions", 60_000 + gap)]["last_session_length_s"] == 60.0


def test_latest_before_picks_newest_closed_window() -> None:
    res = {("u", "v", 60): {"x": 1.0}, ("u", "v", 120): {"x": 2.0}}
    assert latest_before(res, "u", "v", 119) == (60, {"x": 1.0})
    assert latest_before(res, "u", "v", 59) is None
