"""bench.features_events lays out event time against the clock's hours: every run
meets an hour boundary at the same point of its live phase, and all of it
stays in the past (Kafka refuses timestamps more than an hour ahead)."""

from __future__ import annotations

import pytest

from bench.features_events import BACKLOG_MIN, GAP_MIN, HOUR_AT_LIVE_MIN, MIN, layout_start

HOUR = 60 * MIN
NOW = 1_796_300_000_000  # 2026-12-03, not on a boundary


@pytest.mark.parametrize("warmup", [0, 1, 2, 5, 20])
@pytest.mark.parametrize("offset_min", range(0, 24 * 60, 97))
def test_live_phase_meets_an_hour_at_the_same_point(warmup: int, offset_min: int) -> None:
    now = NOW + offset_min * MIN + 12_345
    start = layout_start(now, warmup)
    # the cold backlog, the warm-up ones and the measured one, each followed by
    # a gap; the live phase after the last gap
    live = start + (warmup + 2) * (BACKLOG_MIN + GAP_MIN) * MIN
    assert start % MIN == 0
    assert (live + HOUR_AT_LIVE_MIN * MIN) % HOUR == 0
    assert live + 31 * MIN < now  # a 30 s live phase is 30 event minutes


def test_the_layout_moves_with_the_clock() -> None:
    assert layout_start(NOW + HOUR, 2) == layout_start(NOW, 2) + HOUR
