"""What the features job would emit for a list of arrivals (its tile deltas),
so the audit's reference can be held against ``features.tiles`` on small cases."""

from __future__ import annotations

from features.tiles import MINUTE_FIELDS, Delta, features_at, fold
from mlmesh.chaos import reference as ref

MIN = ref.MIN
T0 = 1_700_000_000_000 // ref.DAY * ref.DAY  # a whole day
Arrival = ref.Event | ref.Doc


def deltas_of(arrivals: list[Arrival], per_emission: int = 1, partition: int = 0,
              first_offset: int = 0) -> list[Delta]:
    """Arrivals cut into emissions of ``per_emission``, each grouped by (user,
    minute tile, events/documents); repeated ids dropped as the job's dedup does."""
    out: list[Delta] = []
    seen: set[str] = set()
    for i in range(0, len(arrivals), per_emission):
        groups: dict[tuple[str, int, bool], list[Arrival]] = {}
        for a in arrivals[i:i + per_emission]:
            key = a.event_id if isinstance(a, ref.Event) else "doc:" + a.doc_id
            if key in seen:
                continue
            seen.add(key)
            groups.setdefault((a.user_id, a.ts - a.ts % MIN, isinstance(a, ref.Doc)),
                              []).append(a)
        for (user, start, is_doc), items in sorted(groups.items()):
            vals = dict.fromkeys(MINUTE_FIELDS, 0.0)
            evs = [e for e in items if isinstance(e, ref.Event)]
            if is_doc:
                vals["docs"] = float(len(items))
            else:
                vals["events"] = float(len(evs))
                vals["amount"] = sum(e.amount for e in evs)
                for e in evs:
                    vals[ref.ACTIONS[e.action]] += 1
            newest = max(a.ts for a in items)
            out.append(Delta(user, start, vals, min(a.ts for a in items), newest, partition,
                             first_offset + len(out), newest + 500))
    return out


def served(arrivals: list[Arrival], t: int, gap_ms: int, per_emission: int = 1) -> ref.Values:
    """What ``features.tiles`` serves at t once the arrivals' deltas are folded."""
    return features_at(fold(deltas_of(arrivals, per_emission), gap_ms), t, gap_ms)


def reference(arrivals: list[Arrival], t: int, gap_ms: int) -> ref.Values:
    return ref.features_at([a for a in arrivals if isinstance(a, ref.Event)],
                           [a for a in arrivals if isinstance(a, ref.Doc)], t, gap_ms)


def same(a: ref.Values, b: ref.Values) -> bool:
    return ref.first_difference(a, b) is None
