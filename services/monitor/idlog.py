"""The ids the monitor has seen (request_id, doc_id, label_id), in bounded memory.

Every id is kept ``ttl`` to ``2 * ttl`` seconds as a 63-bit hash (BLAKE2b of
"<kind>:<id>") with its position ``(partition << 40) | offset``: 16 bytes in
the index and 16 in the table record, against ~700 bytes for the id strings
kept as Python objects (``bench.monitor_soak`` grew 90 MB -> 5.9 GB in 21 min
that way). Memory is therefore at most ``2 * ttl * rate * 32`` bytes and flat
once the first windows expire (10 minutes at 100k ids/s: 3.8 GB; at the
monitor's measured 8.6k/s: 330 MB).

A hash, not the id, decides: two different ids collide with probability
2^-63 per pair, so among ``n`` ids alive at once the chance that ANY valid
record is wrongly dropped as a duplicate is about ``n^2 / 2^64``: 4e-6 for the
8 M ids of 20 minutes at 6,800/s, 8e-4 for 120 M ids at 100k/s.

Storage: one table record per (source partition, window) and batch, its
value the packed ``int64`` pairs (``value_type=bytes``), so a restart rebuilds
the index from the changelog. The index per tumbling window: a dict of the
recent inserts, merged into sorted numpy arrays every ``merge_at`` ids (one
``np.insert``: linear, ~10 ms at 4 M) so a lookup is one dict probe plus one
binary search per window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

import numpy as np

MASK = (1 << 63) - 1
POS_BITS = 40  # offsets below 2^40 (1.1e12) per partition


def id_hash(key: str) -> int:
    return int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "little") & MASK


def position(partition: int, offset: int) -> int:
    return (partition << POS_BITS) | offset


def window_start(ts: float, size: float) -> float:
    return (ts // size) * size


@dataclass
class _Window:
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    positions: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    fresh: dict[int, int] = field(default_factory=dict)

    def find(self, h: int) -> int | None:
        hit = self.fresh.get(h)
        if hit is not None:
            return hit
        hs = self.hashes
        if not len(hs):
            return None
        i = int(hs.searchsorted(h))
        if i < len(hs) and int(hs[i]) == h:
            return int(self.positions[i])
        return None

    def merge(self) -> None:
        if not self.fresh:
            return
        new_h = np.fromiter(self.fresh.keys(), np.int64, len(self.fresh))
        new_p = np.fromiter(self.fresh.values(), np.int64, len(self.fresh))
        order = np.argsort(new_h, kind="stable")
        new_h, new_p = new_h[order], new_p[order]
        at = np.searchsorted(self.hashes, new_h)
        self.hashes = np.insert(self.hashes, at, new_h)
        self.positions = np.insert(self.positions, at, new_p)
        self.fresh = {}

    def __len__(self) -> int:
        return len(self.hashes) + len(self.fresh)


class IdLog:
    """id -> position of its first record, for ``ttl`` to ``2 * ttl`` seconds."""

    def __init__(self, table: Any, name: str, ttl: float, merge_at: int = 65536) -> None:
        self.table, self.name, self.ttl, self.merge_at = table, name, ttl, merge_at
        self.windows: dict[float, _Window] = {}
        self._pending: dict[tuple[str, float], list[int]] = {}
        self._loaded = False

    def _load(self) -> None:
        parts: dict[float, list[np.ndarray]] = {}
        for (name, window), raw in list(self.table.data.items()):
            if str(name).startswith(self.name + "|") and raw:
                parts.setdefault(float(window[0]), []).append(np.frombuffer(raw, np.int64))
        for start, arrays in parts.items():
            pairs = np.concatenate(arrays).reshape(-1, 2)
            # the first record of a hash wins (lowest position), as on the live path
            order = np.lexsort((pairs[:, 1], pairs[:, 0]))
            pairs = pairs[order]
            keep = np.ones(len(pairs), bool)
            keep[1:] = pairs[1:, 0] != pairs[:-1, 0]
            w = self.windows.setdefault(start, _Window())
            w.hashes, w.positions = pairs[keep, 0].copy(), pairs[keep, 1].copy()
        self._loaded = True

    def _find(self, h: int, ts: float) -> int | None:
        if not self._loaded:
            self._load()
        oldest = window_start(ts, self.ttl) - self.ttl
        for start, w in self.windows.items():
            if start >= oldest:
                hit = w.find(h)
                if hit is not None:
                    return hit
        return None

    def get(self, key: str, ts: float) -> int | None:
        """The position the id was first seen at, or None (unseen or expired)."""
        return self._find(id_hash(key), ts)

    def first_seen(self, key: str, pos: int, source: str, ts: float) -> int | None:
        """The position ``key`` was first seen at; None when unseen, after
        which it is remembered at ``pos`` (``source``, "<kind>|<partition>",
        groups the table records: one per source, window and batch)."""
        h = id_hash(key)
        hit = self._find(h, ts)
        if hit is not None:
            return hit
        start = window_start(ts, self.ttl)
        w = self.windows.get(start)
        if w is None:
            w = self.windows[start] = _Window()
        w.fresh[h] = pos
        if len(w.fresh) >= self.merge_at:
            w.merge()
        self._pending.setdefault((source, start), []).extend((h, pos))
        return None

    def flush(self) -> None:
        """One table write per (source, window) touched since the last flush;
        the record's key carries the batch's first position (unique per source)."""
        for (source, start), flat in self._pending.items():
            self.table[(f"{self.name}|{source}|{flat[1]}", (start, start + self.ttl))] = (
                np.asarray(flat, np.int64).tobytes())
        self._pending.clear()

    def prune(self, now: float) -> None:
        oldest = window_start(now, self.ttl) - self.ttl
        for start in [s for s in self.windows if s < oldest]:
            del self.windows[start]

    def __len__(self) -> int:
        return sum(len(w) for w in self.windows.values())

    def nbytes(self) -> int:
        """The index's memory (the arrays, and the fresh dicts at ~100 B an entry)."""
        return sum(w.hashes.nbytes + w.positions.nbytes + 100 * len(w.fresh)
                   for w in self.windows.values())
