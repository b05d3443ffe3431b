"""Every user's served features as of a read time ``t``, recomputed from the
raw events in plain Python.

Independent of the features job and writer (no Flink, no SQL, no tiles, no
``features`` import): only the *contract* is shared, copied below (feature
names, action numbers; services/features/README.md, "Served as of the read
time: tiles"), and restated here from the events themselves:

* an event counts once (its first on-time arrival per ``event_id``), a
  document once per ``doc_id``; only events with event time ``<= t`` count;
* a view of size ``S`` read from tiles of width ``w`` at ``t`` holds the events
  with ``t - t % w + w - S <= event_time <= t``: whole tiles at the old edge
  (1-minute tiles for ``*_5m``, ``*_1h`` and ``doc_count_1h``, 1-hour tiles for
  ``*_24h``), exact at the new edge; an idle user decays to 0 at read time;
* means are sum / count (0 for an empty window), ``distinct_actions_5m`` the
  number of actions with a count above 0;
* a session is a maximal run of events less than ``gap`` apart, closed at its
  last event + gap; ``last_session_*`` describe the newest session (by start)
  that is open at ``t`` or closed within ``(t - 24 h, t]`` (0 when none);
  ``session_count_24h`` counts the sessions closed within ``(t - 24 h, t]``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
ACTIONS = {1: "view", 2: "click", 3: "add_to_cart", 4: "purchase", 5: "search", 6: "login",
           7: "logout"}
PURCHASE = 4
# Every served feature (features.tiles.FEATURE_NAMES, in the catalog's order).
FEATURES: tuple[str, ...] = (
    "event_count_5m", "amount_sum_5m", "amount_mean_5m", "distinct_actions_5m",
    *(f"{a}_count_5m" for a in ACTIONS.values()),
    "event_count_1h", "amount_sum_1h", "amount_mean_1h", "purchase_count_1h",
    "event_count_24h", "amount_sum_24h", "purchase_count_24h",
    "session_count_24h", "last_session_length_s", "last_session_event_count",
    "doc_count_1h",
)
FLOAT_FEATURES = frozenset({"amount_sum_5m", "amount_mean_5m", "amount_sum_1h",
                            "amount_mean_1h", "amount_sum_24h", "last_session_length_s"})

Values = dict[str, float]


@dataclass(frozen=True)
class Event:
    event_id: str
    user_id: str
    ts: int
    action: int
    amount: float


@dataclass(frozen=True)
class Doc:
    doc_id: str
    user_id: str
    ts: int


def _first_events(events: Iterable[Event]) -> list[Event]:
    seen: dict[str, Event] = {}
    for e in events:
        seen.setdefault(e.event_id, e)
    return list(seen.values())


def _first_docs(docs: Iterable[Doc]) -> list[Doc]:
    seen: dict[str, Doc] = {}
    for d in docs:
        seen.setdefault(d.doc_id, d)
    return list(seen.values())


def _old_edge(t: int, size: int, width: int) -> int:
    """The oldest event time a view of ``size`` read from ``width`` tiles holds at t."""
    return t - t % width + width - size


def sessions_of(times: Iterable[int], gap_ms: int) -> list[tuple[int, int, int]]:
    """(first, last, events) of each session, oldest first."""
    out: list[list[int]] = []
    for ts in sorted(times):
        if out and ts - out[-1][1] < gap_ms:
            out[-1][1], out[-1][2] = ts, out[-1][2] + 1
        else:
            out.append([ts, ts, 1])
    return [(s[0], s[1], s[2]) for s in out]


def features_at(events: Iterable[Event], docs: Iterable[Doc], t: int, gap_ms: int) -> Values:
    """One user's served values as of ``t`` (epoch ms), from the raw events
    and documents (first arrival per id; see the module docstring)."""
    evs = [e for e in _first_events(events) if e.ts <= t]
    out: Values = {}

    def window(size: int, width: int) -> list[Event]:
        lo = _old_edge(t, size, width)
        return [e for e in evs if lo <= e.ts]

    w5 = window(5 * MIN, MIN)
    out["event_count_5m"] = float(len(w5))
    out["amount_sum_5m"] = math.fsum(e.amount for e in w5)
    out["amount_mean_5m"] = out["amount_sum_5m"] / len(w5) if w5 else 0.0
    for num, name in ACTIONS.items():
        out[f"{name}_count_5m"] = float(sum(e.action == num for e in w5))
    out["distinct_actions_5m"] = float(len({e.action for e in w5}))
    w1 = window(HOUR, MIN)
    out["event_count_1h"] = float(len(w1))
    out["amount_sum_1h"] = math.fsum(e.amount for e in w1)
    out["amount_mean_1h"] = out["amount_sum_1h"] / len(w1) if w1 else 0.0
    out["purchase_count_1h"] = float(sum(e.action == PURCHASE for e in w1))
    w24 = window(DAY, HOUR)
    out["event_count_24h"] = float(len(w24))
    out["amount_sum_24h"] = math.fsum(e.amount for e in w24)
    out["purchase_count_24h"] = float(sum(e.action == PURCHASE for e in w24))
    recent = [s for s in sessions_of((e.ts for e in evs), gap_ms) if s[1] + gap_ms > t - DAY]
    out["session_count_24h"] = float(sum(s[1] + gap_ms <= t for s in recent))
    out["last_session_length_s"] = (recent[-1][1] - recent[-1][0]) / 1000 if recent else 0.0
    out["last_session_event_count"] = float(recent[-1][2]) if recent else 0.0
    lo = _old_edge(t, HOUR, MIN)
    out["doc_count_1h"] = float(sum(lo <= d.ts <= t for d in _first_docs(docs)))
    return out


@dataclass
class UserLog:
    """One user's unique events and documents."""

    events: list[Event]
    docs: list[Doc]

    @property
    def newest_ms(self) -> int:
        """The newest event or document time (what the user's tiles hold as newest)."""
        return max([e.ts for e in self.events] + [d.ts for d in self.docs], default=0)


def per_user(events: Iterable[Event], docs: Iterable[Doc]) -> dict[str, UserLog]:
    """user -> unique events (first per event_id) and documents (first per doc_id)."""
    out: dict[str, UserLog] = defaultdict(lambda: UserLog([], []))
    for e in _first_events(events):
        out[e.user_id].events.append(e)
    for d in _first_docs(docs):
        out[d.user_id].docs.append(d)
    return dict(out)


def read_times(newest_ms: int, now_ms: int) -> tuple[int, ...]:
    """When the audit reads a user: at its newest event (every window full)
    and at ``max(now, newest)`` (what a read now serves, decayed)."""
    return tuple(sorted({newest_ms, max(now_ms, newest_ms)}))


def same_value(feature: str, expected: float, observed: float) -> bool:
    """Counts exactly; floating sums to 1e-9 relative (addition order differs)."""
    if feature not in FLOAT_FEATURES:
        return round(expected) == round(observed) and abs(expected - round(expected)) < 1e-9 \
            and abs(observed - round(observed)) < 1e-9
    return abs(expected - observed) <= 1e-9 * max(1.0, abs(expected), abs(observed))


def first_difference(expected: Values, observed: Values) -> str | None:
    """``"name: expected X, got Y"`` for the first feature that differs (None: same)."""
    for name in FEATURES:
        want, have = expected.get(name), observed.get(name)
        if want is None and have is None:
            continue
        if want is None or have is None or not same_value(name, want, have):
            return f"{name}: expected {want!r}, got {have!r}"
    return None
