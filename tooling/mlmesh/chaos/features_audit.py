"""The features part of the audit: what the tiles serve (services/features/
README.md, "Served as of the read time: tiles") against the plain-Python
reference over the raw events (``reference.features_at``).

* **exactly once** (offline tile deltas, read straight from the Parquet
  files): per user, the ``events`` (``docs``) of the deltas, each delta once by
  its Kafka position (the writer is at-least-once: a replay may append a delta
  again), equal the user's unique accepted events (documents); every copy of a
  delta holds the same values;
* **online = reference**: each user's tiles read from Feast online
  (``TileStore.read``) and served with ``features.tiles.features_at`` equal the
  reference over the user's unique events, at the user's newest event time
  (every window full) and at ``max(now, newest)`` (what a read now serves);
* **offline = online**: for a sample of users, ``features.offline.historical``
  (through Feast's offline-store interface) at the same times equals the
  online value.

The expected values never come from the features code: it is used only to
read the stores and to turn the stored tiles into values.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlmesh.chaos import reference as ref
from mlmesh.chaos.checks import Check
from mlmesh.chaos.stores import (
    DeltaRow,
    StoreUnavailable,
    feast_store,
    offline_deltas,
    offline_values,
    online_tiles,
)

if TYPE_CHECKING:
    from features.tiles import UserTiles

OFFLINE_SAMPLE = 100  # users whose offline values are compared with online
At = tuple[str, int]  # (user, read time ms)


def _when(t: int, newest: int) -> str:
    return f"t={t} (newest {t - newest:+d} ms)"


def count_checks(logs: dict[str, ref.UserLog], deltas: Iterable[DeltaRow],
                 excluded: tuple[str, ...] = ()) -> tuple[list[Check], dict[str, int]]:
    """Exactly once: the deduplicated offline deltas count each user's unique
    accepted events and documents; copies of a delta agree. Users with deltas
    but no accepted input (and no excluded prefix) are expected to have 0."""
    first: dict[tuple[int, int], DeltaRow] = {}
    conflicting: set[tuple[int, int]] = set()
    rows = copies = 0
    for d in deltas:
        rows += 1
        seen = first.get(d.position)
        if seen is None:
            first[d.position] = d
            continue
        copies += 1
        if seen.content() != d.content():
            conflicting.add(d.position)
    replays = Check("features offline: one value/delta", len(first),
                    len(first) - len(conflicting))
    for pos in sorted(conflicting):
        replays.add(f"delta at partition {pos[0]} offset {pos[1]}: copies differ, first "
                    f"{first[pos].content()}")
    n_events: dict[str, float] = defaultdict(float)
    n_docs: dict[str, float] = defaultdict(float)
    for d in first.values():
        n_events[d.user_id] += d.values.get("events", 0.0)
        n_docs[d.user_id] += d.values.get("docs", 0.0)
    users = set(logs) | {u for u in set(n_events) | set(n_docs) if not u.startswith(excluded)}
    events = Check("events counted once by features",
                   sum(len(lg.events) for lg in logs.values()), 0)
    docs = Check("documents counted once by features",
                 sum(len(lg.docs) for lg in logs.values()), 0)
    for check, counted, what in ((events, n_events, "events"), (docs, n_docs, "documents")):
        for user in sorted(users):
            lg = logs.get(user)
            want = len(lg.events if what == "events" else lg.docs) if lg else 0
            have = counted.get(user, 0.0)
            check.observed += round(have)
            if have != want:
                check.add(f"user {user}: features count {have:g} {what} (offline deltas, "
                          f"each once), {want} unique accepted")
    figures = {"features_users_audited": len(logs), "features_delta_rows": rows,
               "features_delta_copies": copies}
    return [events, docs, replays], figures


def compare_values(check: Check, expected: dict[At, ref.Values],
                   observed: dict[At, ref.Values | None], newest: dict[str, int],
                   what: str) -> None:
    """One mismatch per (user, t) whose observed values differ from the
    expected ones (the first differing feature); ``observed`` None: absent."""
    for (user, t), want in sorted(expected.items()):
        have = observed.get((user, t))
        if have is None:
            check.add(f"user {user} {_when(t, newest[user])}: no {what}")
            continue
        diff = ref.first_difference(want, have)
        if diff:
            check.add(f"user {user} {_when(t, newest[user])}: {diff} ({what})")
        else:
            check.observed += 1


def expected_values(logs: dict[str, ref.UserLog], now_ms: int, gap_ms: int,
                    ) -> dict[At, ref.Values]:
    """The reference at each user's read times."""
    out: dict[At, ref.Values] = {}
    for user, lg in logs.items():
        for t in ref.read_times(lg.newest_ms, now_ms):
            out[(user, t)] = ref.features_at(lg.events, lg.docs, t, gap_ms)
    return out


def served_values(tiles: dict[str, UserTiles | None], times: Iterable[At], gap_ms: int,
                  ) -> dict[At, ref.Values | None]:
    """What the stored tiles serve at each (user, t) (None: no tiles stored)."""
    from features.tiles import features_at

    out: dict[At, ref.Values | None] = {}
    for user, t in times:
        state = tiles.get(user)
        out[(user, t)] = None if state is None else features_at(state, t, gap_ms)
    return out


def sample_users(users: Sequence[str], n: int, seed: int = 0) -> list[str]:
    ordered = sorted(users)
    return ordered if len(ordered) <= n else sorted(random.Random(seed).sample(ordered, n))


def audit_features(state_dir: Path, gap_s: int, events: Iterable[ref.Event],
                   docs: Iterable[ref.Doc], excluded: tuple[str, ...] = (),
                   now_ms: int | None = None, sample: int = OFFLINE_SAMPLE,
                   deltas: Callable[[Path], list[DeltaRow]] = offline_deltas,
                   ) -> tuple[list[Check], dict[str, int]]:
    """The features checks (see the module docstring) and their figures."""
    gap_ms = gap_s * 1000
    now = int(time.time() * 1000) if now_ms is None else now_ms
    logs = ref.per_user(events, docs)
    newest = {u: lg.newest_ms for u, lg in logs.items()}
    figures: dict[str, int] = {"features_read_at_ms": now}
    try:
        counts, more = count_checks(logs, deltas(state_dir), excluded)
        figures.update(more)
    except StoreUnavailable as exc:
        counts = [Check("events counted once by features", 0, 0, skipped=str(exc)),
                  Check("documents counted once by features", 0, 0, skipped=str(exc)),
                  Check("features offline: one value/delta", 0, 0, skipped=str(exc))]
    expected = expected_values(logs, now, gap_ms)
    onl = Check("features online (Feast) = reference", len(expected), 0)
    off = Check("features offline (Feast) = online", 0, 0)
    try:
        store = feast_store(state_dir)
        tiles = online_tiles(store, sorted(logs), gap_ms)
        figures["features_users_online"] = sum(v is not None for v in tiles.values())
        served = served_values(tiles, expected, gap_ms)
        compare_values(onl, expected, served, newest, "tiles online")
    except StoreUnavailable as exc:
        onl.skipped = off.skipped = str(exc)
        return [*counts, onl, off], figures
    picked = sample_users([u for u, s in tiles.items() if s is not None], sample)
    rows = [(u, t) for u in picked for t in ref.read_times(newest[u], now)]
    off.expected = len(rows)
    if not rows:
        off.skipped = "no user with tiles online"
    else:
        try:
            got = offline_values(store, rows, gap_ms)
        except Exception as exc:  # the offline read itself failed: say why
            off.add(f"features.offline.historical failed: {type(exc).__name__}: {exc}")
        else:
            online_at = {at: v for at, v in served_values(tiles, rows, gap_ms).items()
                         if v is not None}
            compare_values(off, online_at, dict(zip(rows, got, strict=True)), newest,
                           "offline (historical)")
    return [*counts, onl, off], figures
