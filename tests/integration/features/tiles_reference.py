"""An independent plain-Python statement of the tiles' as-of-t definition
(services/features/README.md, "Served as of the read time") over raw events,
and what the job emits for a list of arrivals (its deltas), for the tests."""

from __future__ import annotations

import random
from dataclasses import dataclass

from features.catalog import ACTIONS
from features.tiles import DAY_MS, MINUTE_FIELDS, TILE_MS, Delta

MIN = 60_000
HOUR = 60 * MIN


@dataclass(frozen=True)
class Ev:
    id: str
    ts: int
    action: int  # 0: a document
    amount: float


def reference(events: list[Ev], t: int, gap: int) -> dict[str, float]:
    """The README's definition, straight from the events (first arrival per id)."""
    seen: dict[str, Ev] = {}
    for e in events:
        seen.setdefault(e.id, e)
    evs = [e for e in seen.values() if e.action and e.ts <= t]
    docs = [e for e in seen.values() if not e.action and e.ts <= t]

    def window(size: int, width: int) -> list[Ev]:
        lo = t - t % width + width - size
        return [e for e in evs if lo <= e.ts]

    out: dict[str, float] = {}
    w5 = window(5 * MIN, MIN)
    out["event_count_5m"] = len(w5)
    out["amount_sum_5m"] = sum(e.amount for e in w5)
    out["amount_mean_5m"] = out["amount_sum_5m"] / len(w5) if w5 else 0.0
    for num, name in ACTIONS.items():
        out[f"{name}_count_5m"] = sum(e.action == num for e in w5)
    out["distinct_actions_5m"] = len({e.action for e in w5})
    w1 = window(HOUR, MIN)
    out["event_count_1h"] = len(w1)
    out["amount_sum_1h"] = sum(e.amount for e in w1)
    out["amount_mean_1h"] = out["amount_sum_1h"] / len(w1) if w1 else 0.0
    out["purchase_count_1h"] = sum(e.action == 4 for e in w1)
    w24 = window(DAY_MS, HOUR)
    out["event_count_24h"] = len(w24)
    out["amount_sum_24h"] = sum(e.amount for e in w24)
    out["purchase_count_24h"] = sum(e.action == 4 for e in w24)
    times = sorted(e.ts for e in evs)
    sessions: list[list[int]] = []
    for ts in times:
        if sessions and ts - sessions[-1][1] < gap:
            sessions[-1][1], sessions[-1][2] = ts, sessions[-1][2] + 1
        else:
            sessions.append([ts, ts, 1])
    recent = [s for s in sessions if s[1] + gap > t - DAY_MS]
    out["session_count_24h"] = sum(s[1] + gap <= t for s in recent)
    out["last_session_length_s"] = (recent[-1][1] - recent[-1][0]) / 1000 if recent else 0.0
    out["last_session_event_count"] = recent[-1][2] if recent else 0
    lo = t - t % MIN + MIN - HOUR
    out["doc_count_1h"] = len([d for d in docs if lo <= d.ts])
    return {k: float(v) for k, v in out.items()}


def deltas_of(arrivals: list[Ev], rnd: random.Random, user: str = "u") -> list[Delta]:
    """What the job emits: arrivals cut into emissions, each grouped by minute
    tile; duplicates (an id seen before) dropped, as the job's dedup does."""
    out: list[Delta] = []
    seen: set[str] = set()
    i = 0
    while i < len(arrivals):
        n = rnd.randint(1, 6)
        batch = []
        for e in arrivals[i:i + n]:
            if e.id not in seen:
                seen.add(e.id)
                batch.append(e)
        i += n
        tiles: dict[tuple[int, bool], list[Ev]] = {}
        for e in batch:
            tiles.setdefault((e.ts - e.ts % TILE_MS, e.action == 0), []).append(e)
        for (start, is_doc), evs in sorted(tiles.items()):
            vals = dict.fromkeys(MINUTE_FIELDS, 0.0)
            if is_doc:
                vals["docs"] = len(evs)
            else:
                vals["events"] = len(evs)
                vals["amount"] = sum(e.amount for e in evs)
                for e in evs:
                    vals[ACTIONS[e.action]] += 1
            out.append(Delta(user, start, vals, min(e.ts for e in evs), max(e.ts for e in evs),
                             0, len(out)))
    return out
