"""Two feature writers on one real online store (SQLite and Redis), one after
the other as a rebalance hands a user's partition over and back: the first
writer's remembered window end is stale once the second wrote a newer window,
and after ``forget_window_ends`` (what the writer's consumer calls at a
rebalance) a replayed older window no longer overwrites the newer one."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.catalog import VIEWS, zero_values
from features.store import FeastStore, FeatureRow

VIEW = "user_activity_1h"
SPEC = VIEWS[VIEW]
HOUR = 3_600_000


def _row(end_ms: int, count: float) -> FeatureRow:
    values = zero_values(VIEW)
    values[SPEC.features[0]] = count
    return FeatureRow("handed-over", VIEW, end_ms - HOUR, end_ms, values, end_ms + 50)


def _online(store: FeastStore) -> tuple[float, int]:
    value = next(v for v in store.read_user("handed-over") if v.view == VIEW)
    assert value.window_end is not None
    return float(value.values[SPEC.features[0]]), int(value.window_end.timestamp() * 1000)


@pytest.mark.parametrize("online", ["sqlite", "redis"])
def test_forgotten_window_ends_are_read_again_from_the_store(
        request: pytest.FixtureRequest, tmp_path: Path, online: str) -> None:
    url = {"redis_url": request.getfixturevalue("redis_url")} if online == "redis" else {}
    first = FeastStore(tmp_path, online=online, **url)
    first.open()
    assert first.write_online([_row(2 * HOUR, 2.0)]) == 1
    second = FeastStore(tmp_path, online=online, **url)  # the partition's next owner
    second.open()
    assert second.write_online([_row(4 * HOUR, 4.0)]) == 1
    assert _online(first) == (4.0, 4 * HOUR)

    first.forget_window_ends()  # the partition came back: a rebalance
    assert first.write_online([_row(3 * HOUR, 3.0)]) == 0  # a replay, older than stored
    assert _online(first) == (4.0, 4 * HOUR)
    assert first.write_online([_row(5 * HOUR, 5.0)]) == 1
    assert _online(second) == (5.0, 5 * HOUR)
