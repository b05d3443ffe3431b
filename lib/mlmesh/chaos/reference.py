"""Every user's windowed features, recomputed from raw events in plain Python.

Independent of the features job (no Flink, no SQL): only the *contract* is
shared (views, window sizes and slides, feature names: ``features.catalog``
when importable, else the copy below). Semantics the job documents and this
module re-derives:

* sliding views: windows ``[start, start + size)`` with ``start`` a multiple of
  the slide; a window exists when it holds at least one event; after a user's
  last non-empty window of a run, one *zero* window (all features 0) one slide
  later;
* ``user_sessions``: a session closes after ``gap`` without events; one row
  per session keyed by its end (last event + gap, in ms), with the
  number of sessions whose end falls in the 24 h up to and including its own;
* an event counts once (first on-time arrival of its ``event_id``);
* documents count distinct ``doc_id`` per window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
ACTIONS = {1: "view", 2: "click", 3: "add_to_cart", 4: "purchase", 5: "search", 6: "login",
           7: "logout"}
PURCHASE = 4
# view -> (size_ms, slide_ms); the contract of helper-context / features.catalog.
SLIDING: dict[str, tuple[int, int]] = {
    "user_activity_5m": (5 * MIN, MIN),
    "user_activity_1h": (HOUR, 5 * MIN),
    "user_activity_24h": (DAY, HOUR),
    "user_documents_1h": (HOUR, 5 * MIN),
}
SESSIONS = "user_sessions"
FEATURES: dict[str, tuple[str, ...]] = {
    "user_activity_5m": ("event_count_5m", "amount_sum_5m", "amount_mean_5m",
                         "distinct_actions_5m", *(f"{a}_count_5m" for a in ACTIONS.values())),
    "user_activity_1h": ("event_count_1h", "amount_sum_1h", "amount_mean_1h",
                         "purchase_count_1h"),
    "user_activity_24h": ("event_count_24h", "amount_sum_24h", "purchase_count_24h"),
    SESSIONS: ("session_count_24h", "last_session_length_s", "last_session_event_count"),
    "user_documents_1h": ("doc_count_1h",),
}
FLOAT_FEATURES = frozenset({"amount_sum_5m", "amount_mean_5m", "amount_sum_1h",
                            "amount_mean_1h", "amount_sum_24h", "last_session_length_s"})

Key = tuple[str, str, int]  # (user_id, view, window end ms)
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


def window_ends(ts: int, size: int, slide: int) -> range:
    """Ends of every window ``[e - size, e)`` (e - size a multiple of slide) holding ts."""
    first_start = (ts - size) // slide * slide + slide  # smallest start > ts - size
    last_start = ts // slide * slide
    return range(first_start + size, last_start + size + 1, slide)


def _activity(view: str, evs: list[Event]) -> Values:
    n = len(evs)
    total = sum(e.amount for e in evs)
    suffix = view.rsplit("_", 1)[1]
    out: Values = {f"event_count_{suffix}": float(n), f"amount_sum_{suffix}": total}
    purchases = float(sum(1 for e in evs if e.action == PURCHASE))
    if view == "user_activity_5m":
        out["amount_mean_5m"] = total / n
        out["distinct_actions_5m"] = float(len({e.action for e in evs}))
        for num, name in ACTIONS.items():
            out[f"{name}_count_5m"] = float(sum(1 for e in evs if e.action == num))
    elif view == "user_activity_1h":
        out["amount_mean_1h"] = total / n
        out["purchase_count_1h"] = purchases
    else:
        out["purchase_count_24h"] = purchases
    return out


def _with_zero_rows(view: str, rows: dict[int, Values], slide: int) -> dict[int, Values]:
    out = dict(rows)
    for end in rows:
        if end + slide not in rows:
            out[end + slide] = dict.fromkeys(FEATURES[view], 0.0)
    return out


def sliding_features(events: Iterable[Event]) -> dict[Key, Values]:
    by_window: dict[tuple[str, str, int], list[Event]] = defaultdict(list)
    for e in events:
        for view in ("user_activity_5m", "user_activity_1h", "user_activity_24h"):
            size, slide = SLIDING[view]
            for end in window_ends(e.ts, size, slide):
                by_window[(e.user_id, view, end)].append(e)
    per_user_view: dict[tuple[str, str], dict[int, Values]] = defaultdict(dict)
    for (user, view, end), evs in by_window.items():
        per_user_view[(user, view)][end] = _activity(view, evs)
    out: dict[Key, Values] = {}
    for (user, view), rows in per_user_view.items():
        for end, vals in _with_zero_rows(view, rows, SLIDING[view][1]).items():
            out[(user, view, end)] = vals
    return out


def document_features(docs: Iterable[Doc]) -> dict[Key, Values]:
    size, slide = SLIDING["user_documents_1h"]
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for d in docs:
        for end in window_ends(d.ts, size, slide):
            ids[(d.user_id, end)].add(d.doc_id)
    per_user: dict[str, dict[int, Values]] = defaultdict(dict)
    for (user, end), s in ids.items():
        per_user[user][end] = {"doc_count_1h": float(len(s))}
    out: dict[Key, Values] = {}
    for user, rows in per_user.items():
        for end, vals in _with_zero_rows("user_documents_1h", rows, slide).items():
            out[(user, "user_documents_1h", end)] = vals
    return out


def session_features(events: Iterable[Event], gap_s: int) -> dict[Key, Values]:
    gap = gap_s * 1000
    times: dict[str, list[int]] = defaultdict(list)
    for e in events:
        times[e.user_id].append(e.ts)
    out: dict[Key, Values] = {}
    for user, ts_list in times.items():
        ts_list.sort()
        sessions: list[list[int]] = []
        for t in ts_list:
            if sessions and t - sessions[-1][-1] < gap:
                sessions[-1].append(t)
            else:
                sessions.append([t])
        ends = [s[-1] + gap for s in sessions]
        for i, s in enumerate(sessions):
            wt = ends[i] - 1  # window_time: the OVER window orders by it
            count = sum(1 for e in ends if wt - DAY <= e - 1 <= wt)
            out[(user, SESSIONS, ends[i])] = {
                "session_count_24h": float(count),
                "last_session_length_s": (s[-1] - s[0]) / 1000.0,
                "last_session_event_count": float(len(s)),
            }
    return out


def expected_features(events: Iterable[Event], docs: Iterable[Doc],
                      gap_s: int) -> dict[Key, Values]:
    evs = list(events)
    out = sliding_features(evs)
    out.update(session_features(evs, gap_s))
    out.update(document_features(docs))
    return out


def latest_per_user_view(rows: dict[Key, Values]) -> dict[tuple[str, str], tuple[int, Values]]:
    """What the online store must hold: the newest window of every (user, view)."""
    out: dict[tuple[str, str], tuple[int, Values]] = {}
    for (user, view, end), vals in rows.items():
        cur = out.get((user, view))
        if cur is None or end > cur[0]:
            out[(user, view)] = (end, vals)
    return out


def same_value(feature: str, expected: float, observed: float) -> bool:
    """Counts exactly; floating sums to 1e-9 relative (addition order differs)."""
    if feature not in FLOAT_FEATURES:
        return round(expected) == round(observed) and abs(expected - round(expected)) < 1e-9
    return abs(expected - observed) <= 1e-9 * max(1.0, abs(expected), abs(observed))
