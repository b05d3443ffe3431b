"""The online store keeps each user's newest window on both backends the feature
writer supports, SQLite (the default) and Redis (the scale-out store, a real
server here): a replayed older window never overwrites a newer one, and a later
emission of the same window (the real row after a provisional zero row) does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.catalog import VIEWS, zero_values
from features.store import FeastStore, FeatureRow

VIEW = "user_activity_5m" if "user_activity_5m" in VIEWS else next(iter(VIEWS))
SPEC = VIEWS[VIEW]
MIN = 60_000


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeastStore]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    st = FeastStore(tmp_path, online=request.param, **({"redis_url": url} if url else {}))
    st.open()
    yield st


def row(user: str, end_ms: int, count: float, emitted_ms: int) -> FeatureRow:
    values = zero_values(VIEW)
    values[SPEC.features[0]] = count
    return FeatureRow(user, VIEW, end_ms - 5 * MIN, end_ms, values, emitted_ms)


def first_value(store: FeastStore, user: str) -> tuple[float, int | None]:
    value = next(v for v in store.read_user(user) if v.view == VIEW)
    end = int(value.window_end.timestamp() * 1000) if value.window_end else None
    return value.values[SPEC.features[0]], end


def test_newest_window_wins_and_a_replay_cannot_go_back(store: FeastStore) -> None:
    now = (int(time.time() * 1000) // MIN) * MIN
    user = f"u-{store.online}-{now}"
    assert store.write_online([row(user, now, 7, now + 10)]) == 1
    assert first_value(store, user) == (7, now)
    assert store.write_online([row(user, now - MIN, 3, now + 20)]) == 0  # older: replay
    assert first_value(store, user) == (7, now)
    assert store.write_online([row(user, now + MIN, 9, now + 30)]) == 1
    assert first_value(store, user) == (9, now + MIN)


def test_a_later_emission_of_the_same_window_replaces_the_first(store: FeastStore) -> None:
    now = (int(time.time() * 1000) // MIN) * MIN
    user = f"z-{store.online}-{now}"
    store.write_online([row(user, now, 0, now + 5)])  # the provisional zero row
    assert first_value(store, user) == (0, now)
    store.write_online([row(user, now, 4, now + 900)])  # the real result, same window end
    assert first_value(store, user) == (4, now)


def test_other_users_are_untouched(store: FeastStore) -> None:
    now = (int(time.time() * 1000) // MIN) * MIN
    a, b = f"a-{store.online}-{now}", f"b-{store.online}-{now}"
    store.write_online([row(a, now, 5, now + 1), row(b, now, 6, now + 1)])
    store.write_online([row(a, now + MIN, 1, now + 2)])
    assert first_value(store, a) == (1, now + MIN)
    assert first_value(store, b) == (6, now)
