"""An independent, plain-Python computation of the features (no job code).

Given the events the job accepted (deduplicated, not late) it lists every
window result the job must emit: sliding windows with >= 1 event, the zero row
of the first empty window after each non-empty one, and one session row per
closed session with the 24 h session count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

MIN = 60_000
HOUR = 60 * MIN
ACTION_NAMES = {1: "view", 2: "click", 3: "add_to_cart", 4: "purchase", 5: "search",
                6: "login", 7: "logout"}
# view -> (size, slide)
SLIDING = {"user_activity_5m": (5 * MIN, MIN), "user_activity_1h": (HOUR, 5 * MIN),
           "user_activity_24h": (24 * HOUR, HOUR), "user_documents_1h": (HOUR, 5 * MIN)}


@dataclass(frozen=True)
class Ev:
    event_id: str
    user_id: str
    ts: int
    action: int
    amount: float


Key = tuple[str, str, int]  # user, view, window end


def _values(view: str, evs: list[Ev]) -> dict[str, float]:
    n = len(evs)
    total = sum(e.amount for e in evs)
    if view == "user_documents_1h":
        return {"doc_count_1h": float(len({e.event_id for e in evs}))}
    if view == "user_activity_5m":
        out = {"event_count_5m": float(n), "amount_sum_5m": total, "amount_mean_5m": total / n,
               "distinct_actions_5m": float(len({e.action for e in evs}))}
        for num, name in ACTION_NAMES.items():
            out[f"{name}_count_5m"] = float(sum(1 for e in evs if e.action == num))
        return out
    purchases = float(sum(1 for e in evs if e.action == 4))
    if view == "user_activity_1h":
        return {"event_count_1h": float(n), "amount_sum_1h": total,
                "amount_mean_1h": total / n, "purchase_count_1h": purchases}
    return {"event_count_24h": float(n), "amount_sum_24h": total,
            "purchase_count_24h": purchases}


def _zero(view: str) -> dict[str, float]:
    return {k: 0.0 for k in _values(view, [Ev("x", "x", 0, 1, 0.0)])}


def sliding(view: str, events: Iterable[Ev], watermark: int) -> dict[Key, dict[str, float]]:
    """Results of windows whose end - 1 <= watermark."""
    size, slide = SLIDING[view]
    by_user: dict[str, list[Ev]] = defaultdict(list)
    for e in events:
        by_user[e.user_id].append(e)
    out: dict[Key, dict[str, float]] = {}
    for user, evs in by_user.items():
        ends: set[int] = set()
        for e in evs:  # every window [end - size, end) holding e
            end = (e.ts // slide + 1) * slide
            while end - size <= e.ts:
                ends.add(end)
                end += slide
        for end in sorted(ends):
            if end - 1 > watermark:
                continue
            inside = [e for e in evs if end - size <= e.ts < end]
            out[(user, view, end)] = _values(view, inside)
            nxt = end + slide
            if nxt not in ends and nxt - 1 <= watermark:
                out[(user, view, nxt)] = _zero(view)
    return out


def sessions(events: Iterable[Ev], gap_ms: int, watermark: int) -> dict[Key, dict[str, float]]:
    by_user: dict[str, list[Ev]] = defaultdict(list)
    for e in events:
        by_user[e.user_id].append(e)
    out: dict[Key, dict[str, float]] = {}
    for user, evs in by_user.items():
        evs.sort(key=lambda e: e.ts)
        groups: list[list[Ev]] = [[evs[0]]]
        for e in evs[1:]:
            if e.ts - groups[-1][-1].ts >= gap_ms:
                groups.append([e])
            else:
                groups[-1].append(e)
        closed = [g for g in groups if g[-1].ts + gap_ms - 1 <= watermark]
        times = [g[-1].ts + gap_ms - 1 for g in closed]  # window_time
        for g, wt in zip(closed, times, strict=True):
            count = sum(1 for t in times if wt - 24 * HOUR <= t <= wt)
            out[(user, "user_sessions", g[-1].ts + gap_ms)] = {
                "session_count_24h": float(count),
                "last_session_length_s": (g[-1].ts - g[0].ts) / 1000.0,
                "last_session_event_count": float(len(g)),
            }
    return out


def all_features(events: list[Ev], docs: list[Ev], gap_ms: int,
                 watermark: int) -> dict[Key, dict[str, float]]:
    out: dict[Key, dict[str, float]] = {}
    for view in ("user_activity_5m", "user_activity_1h", "user_activity_24h"):
        out.update(sliding(view, events, watermark))
    out.update(sliding("user_documents_1h", docs, watermark))
    out.update(sessions(events, gap_ms, watermark))
    return out


def latest_before(results: dict[Key, dict[str, float]], user: str, view: str,
                  at_ms: int) -> tuple[int, dict[str, float]] | None:
    """The newest window of (user, view) that closed at or before ``at_ms``."""
    ends = [k[2] for k in results if k[0] == user and k[1] == view and k[2] <= at_ms]
    if not ends:
        return None
    end = max(ends)
    return end, results[(user, view, end)]
