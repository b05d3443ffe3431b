"""monitor.seek.committable: what the monitor commits for a partition whose
offsets skip (transaction markers, aborted records a read_committed consumer
never sees), where faust's gap tree stalls when the skip starts right at the
committed position (faust-streaming #606)."""

from __future__ import annotations

import random

import pytest

from monitor.seek import committable


def test_a_marker_at_the_committed_position_is_passed_over() -> None:
    # committed 10 (the next to read); 10 and 11 are two producers' markers
    acked = [12, 13, 14]
    assert committable(acked, [], committed=10) == 15
    assert acked == []


def test_a_pending_record_holds_the_commit_below_it() -> None:
    acked = [12, 13, 16, 17]  # 14 delivered, still in the agent's batch; 15 a marker
    assert committable(acked, [14], committed=10) == 14
    assert acked == [16, 17]
    assert committable(acked, [], committed=14) == 18


def test_nothing_new_commits_nothing() -> None:
    assert committable([], [], committed=5) is None
    acked = [7]
    assert committable(acked, [3], committed=5) is None  # a replay below it still pending
    assert acked == [7]


@pytest.mark.parametrize("seed", range(20))
def test_never_past_an_unacknowledged_record(seed: int) -> None:
    """Random streams of transactions (records, then one or two markers)
    delivered in order and acknowledged out of order: no commit passes a
    delivered record not yet acknowledged, and once all are acknowledged the
    commit reaches the end."""
    rng = random.Random(seed)
    offsets: list[int] = []
    nxt = 0
    while len(offsets) < 300:
        size = rng.randint(1, 6)
        offsets.extend(range(nxt, nxt + size))
        nxt += size + rng.randint(1, 2)  # the markers' offsets: never delivered
    delivered: list[int] = []
    ever_acked: set[int] = set()
    acked: list[int] = []  # faust's list, which committable trims
    committed: int | None = None
    commits = 0
    for i in range(0, len(offsets), 17):
        delivered.extend(offsets[i:i + 17])
        newly = [x for x in delivered if x not in ever_acked and rng.random() < 0.7]
        ever_acked.update(newly)
        acked.extend(newly)
        pending = [x for x in delivered if x not in ever_acked]
        got = committable(acked, pending, committed)
        if got is not None:
            assert committed is None or got > committed
            assert all(x in ever_acked for x in delivered if x < got)
            committed, commits = got, commits + 1
    acked.extend(x for x in delivered if x not in ever_acked)
    assert committable(acked, [], committed) == offsets[-1] + 1
    assert commits > 5
