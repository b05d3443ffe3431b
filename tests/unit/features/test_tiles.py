"""Tiles -> served values (features.tiles) against an independent plain-Python
statement of the as-of-t definition over the raw events, on scripted streams
with out-of-order arrivals, duplicates, sessions and idle gaps."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "integration" / "features"))

from tiles_reference import HOUR, MIN, Ev, deltas_of, reference

from features.tiles import DAY_MS, TILE_MS, Delta, UserTiles, features_at, fold

pytestmark = pytest.mark.unit
GAP = 5 * MIN


def stream(seed: int) -> tuple[list[Ev], int]:
    rnd = random.Random(seed)
    base = 1_700_000_000_000 - 1_700_000_000_000 % HOUR + rnd.randint(0, HOUR)
    t = base
    evs: list[Ev] = []
    for i in range(rnd.randint(20, 120)):
        t += rnd.choice([rnd.randint(100, 40_000)] * 8 + [GAP + rnd.randint(1, 3 * MIN),
                                                           rnd.randint(HOUR, 3 * HOUR)])
        if rnd.random() < 0.15:
            evs.append(Ev(f"d{i}", t + rnd.randint(-2000, 2000), 0, 0.0))
        evs.append(Ev(f"e{i}", t, rnd.randint(1, 7), round(rnd.uniform(0, 300), 2)))
    arrivals = list(evs)
    for i in range(1, len(arrivals) - 1, 4):  # out of order within seconds..minutes
        if rnd.random() < 0.5:
            arrivals[i], arrivals[i + 1] = arrivals[i + 1], arrivals[i]
    for i in rnd.sample(range(len(arrivals)), k=len(arrivals) // 8):  # duplicates
        arrivals.insert(min(len(arrivals), i + rnd.randint(1, 5)), arrivals[i])
    return arrivals, max(e.ts for e in evs)


@pytest.mark.parametrize("seed", range(40))
def test_served_values_equal_the_definition(seed: int) -> None:
    arrivals, newest = stream(seed)
    state = fold(deltas_of(arrivals, random.Random(seed)), GAP)
    for after in (0, 1, 30_000, 2 * MIN, 4 * MIN + 59_999, 5 * MIN, 6 * MIN, GAP, GAP + 1,
                  59 * MIN, HOUR, 2 * HOUR, 23 * HOUR, DAY_MS, DAY_MS + GAP, 3 * DAY_MS):
        t = newest + after
        assert features_at(state, t, GAP) == pytest.approx(reference(arrivals, t, GAP)), after


@pytest.mark.parametrize("seed", range(10))
def test_replayed_deltas_count_once_and_state_round_trips(seed: int) -> None:
    arrivals, newest = stream(seed)
    deltas = deltas_of(arrivals, random.Random(seed))
    once = fold(deltas, GAP)
    cut = len(deltas) // 2
    state = fold(deltas[:cut], GAP)
    state = fold(deltas[cut // 2:], GAP, state)  # a writer crash: the second half replayed
    assert features_at(state, newest, GAP) == features_at(once, newest, GAP)
    a = state.to_arrays()
    back = UserTiles.from_arrays(a["minute_tiles"], a["hour_tiles"],  # type: ignore[arg-type]
                                 a["sessions"], state.newest_ms,  # type: ignore[arg-type]
                                 a["applied_offset"])  # type: ignore[arg-type]
    assert back == state


def test_idle_user_decays_to_zero_and_state_stays_bounded() -> None:
    rnd = random.Random(3)
    t0 = 1_700_000_000_000
    arrivals = [Ev(f"e{i}", t0 + i * 7_000, rnd.randint(1, 7), 1.0) for i in range(3 * 24 * 520)]
    state = fold(deltas_of(arrivals, rnd), GAP)
    newest = arrivals[-1].ts
    assert len(state.minute) <= 60 and len(state.hour) <= 24 and len(state.sessions) <= 2
    later = features_at(state, newest + DAY_MS + GAP, GAP)
    assert all(v == 0 for k, v in later.items() if k != "session_count_24h")
    assert features_at(state, newest + 6 * MIN, GAP)["event_count_5m"] == 0
    assert features_at(state, newest + 6 * MIN, GAP)["event_count_1h"] > 0


def test_a_cluster_bridging_two_sessions_merges_them() -> None:
    s = UserTiles()
    for i, ts in enumerate((0, 10 * MIN)):
        s.apply(Delta("u", ts - ts % TILE_MS, {"events": 1.0}, ts, ts, 0, i), GAP)
    assert len(s.sessions) == 2
    s.apply(Delta("u", 5 * MIN, {"events": 2.0}, 4 * MIN, 5 * MIN + 30_000, 0, 2), GAP)
    assert s.sessions == [[0, 10 * MIN, 4]]
