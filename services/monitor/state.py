"""The monitor's faust tables and in-memory view of them.

Tables (all changelogged, ``memory://`` store, one changelog partition each,
``use_partitioner=True`` so a key always lands on the same changelog partition
whoever writes it, a stream agent or a timer):

* ``agg`` (tumbling ``window_s``, expires ``retention_s``): key
  ``("<topic>|<partition>", (start, end))``, value: an aggregate record
  (:mod:`monitor.metrics.records`) that carries ``wm``, the highest source
  offset folded in. Replayed records at or below it are skipped, so a restart
  (clean or SIGKILL) never double counts: the offset and the sums it covers
  are one changelog record.
* ``ids`` (tumbling ``dedupe_ttl_s``, an :class:`monitor.idlog.IdLog`): the
  hashes of request_id / doc_id / label_id -> position of their first record,
  16 bytes each. A second record with the same id at another position is an
  upstream duplicate and is dropped; the same record replayed is left to the
  watermark.
* ``last_pred`` (tumbling ``retention_s``, a :class:`BatchLog`, compacted):
  user_id -> [score, model_version] of the user's latest prediction
  (delayed-label join).
* ``refs``: model_version -> drift reference distributions.
* ``alert_state``: "engine" -> the alert engine's open alerts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import faust

from monitor.idlog import IdLog
from monitor.metrics.lag import PartitionLag
from monitor.metrics.rules import AlertEngine, load_rules
from monitor.settings import Settings

WindowKey = tuple[str, tuple[float, float]]


def window_of(ts: float, size: float) -> tuple[float, float]:
    start = (ts // size) * size
    return (start, start + size)


class BatchLog:
    """A key -> value memory with a time to live, written append-only: each
    batch adds ONE table record per source partition (``("<name>|<topic>|<partition>|
    <first offset>", window)`` -> ``[[key, value, offset], ...]``) instead of one record per key,
    and an in-memory index answers lookups. The index is rebuilt from the
    table after a restart. ``keep="first"``: the earliest offset of a key wins;
    ``"last"``: the latest (latest prediction per user).

    Compaction keeps the table's memory proportional to the live keys, not to
    the records written: once the entries written since the last snapshot
    outnumber ``max(compact_min, 2 * live keys)``, the index is written as a
    snapshot (records ``("<name>|#<generation>|<i>", window)``, ``#`` cannot
    occur in a topic name) and every older record is deleted (a tombstone in
    the changelog). Each entry is thus written at most twice per snapshot
    period on average; without it the latest prediction per user kept EVERY
    prediction for two retention periods."""

    def __init__(self, table: Any, name: str, ttl: float, keep: str = "first",
                 compact_min: int = 50_000, chunk: int = 5_000) -> None:
        self.table, self.name, self.ttl, self.keep = table, name, ttl, keep
        self.compact_min, self.chunk = compact_min, chunk
        self.index: dict[str, tuple[Any, float, int]] = {}
        self._pending: dict[tuple[str, tuple[float, float]], list[list[Any]]] = {}
        self._loaded = False
        self._written = 0  # entries written since the last snapshot
        self._generation = 0

    def _wins(self, key: str, offset: int) -> bool:
        cur = self.index.get(key)
        if cur is None:
            return True
        return offset < cur[2] if self.keep == "first" else offset > cur[2]

    def _load(self) -> None:
        for (name, window), items in list(self.table.data.items()):
            if str(name).startswith(self.name + "|") and items:
                tag = str(name).split("|")[1]
                if tag.startswith("#"):
                    self._generation = max(self._generation, int(tag[1:]))
                else:
                    self._written += len(items)
                for key, value, offset in items:
                    if self._wins(key, int(offset)):
                        self.index[key] = (value, float(window[0]), int(offset))
        self._loaded = True

    def get(self, key: str, ts: float) -> Any:
        if not self._loaded:
            self._load()
        hit = self.index.get(key)
        if hit is None or hit[1] < window_of(ts, self.ttl)[0] - self.ttl:
            return None
        return hit[0]

    def put(self, key: str, value: Any, source: str, offset: int, ts: float) -> None:
        """``source``: "<topic>|<partition>" the record came from (offsets are
        only comparable, and batch keys only unique, within one source)."""
        if not self._loaded:
            self._load()
        window = window_of(ts, self.ttl)
        if self._wins(key, offset):
            self.index[key] = (value, window[0], offset)
        self._pending.setdefault((source, window), []).append([key, value, offset])

    def flush(self) -> None:
        """One table write per (partition, window) touched since the last flush."""
        for (source, window), items in self._pending.items():
            self.table[(f"{self.name}|{source}|{items[0][2]}", window)] = items
            self._written += len(items)
        self._pending.clear()
        if self._written > max(self.compact_min, 2 * len(self.index)):
            self.compact()

    def compact(self) -> None:
        """Write the live index as a snapshot, then delete every older record."""
        self._generation += 1
        by_window: dict[float, list[list[Any]]] = {}
        for key, (value, start, offset) in self.index.items():
            by_window.setdefault(start, []).append([key, value, offset])
        written: set[tuple[str, tuple[float, float]]] = set()
        for start, items in by_window.items():
            for i in range(0, len(items), self.chunk):
                record = (f"{self.name}|#{self._generation}|{i // self.chunk}",
                          (start, start + self.ttl))
                self.table[record] = items[i:i + self.chunk]
                written.add(record)
        prefix = self.name + "|"
        for record in [k for k in list(self.table.data.keys())
                       if str(k[0]).startswith(prefix) and k not in written]:
            del self.table[record]
        self._written = 0

    def prune(self, now: float) -> None:
        oldest = window_of(now, self.ttl)[0] - self.ttl
        for key in [k for k, v in self.index.items() if v[1] < oldest]:
            del self.index[key]


@dataclass
class Runtime:
    """What timers, agents and web handlers share (one per app instance)."""

    summary: dict[str, Any] = field(default_factory=dict)
    lags: list[PartitionLag] = field(default_factory=list)
    lag_error: str = ""
    processed: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    replayed: dict[str, int] = field(default_factory=dict)
    recent_alerts: list[dict[str, Any]] = field(default_factory=list)
    # (kind, window start, window end) written since the evaluator's last tick
    dirty: set[tuple[str, float, float]] = field(default_factory=set)
    started_at: float = field(default_factory=time.time)


class Monitor:
    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        s = settings
        self.agg = app.Table("agg", default=None, partitions=1, use_partitioner=True,
                             help="aggregates per topic/partition/window").tumbling(
                                 s.window_s, expires=s.retention_s)
        ids = app.Table("ids", default=None, partitions=1, use_partitioner=True,
                        value_type=bytes, help="recent ids for de-duplication "
                        "(hashes, monitor.idlog)").tumbling(
                            s.dedupe_ttl_s, expires=s.dedupe_ttl_s)
        last = app.Table("last_pred", default=None, partitions=1, use_partitioner=True,
                         help="latest prediction per user").tumbling(
                             s.retention_s, expires=2 * s.retention_s)
        self.seen = IdLog(ids.table, "seen", s.dedupe_ttl_s)
        self.last_pred = BatchLog(last.table, "last", s.retention_s, keep="last")
        self.refs = app.Table("refs", default=None, partitions=1, use_partitioner=True,
                              help="drift reference per model version")
        self.alert_state = app.Table("alert_state", default=None, partitions=1,
                                     use_partitioner=True, help="open alerts")
        self.engine = AlertEngine(load_rules(s.alerts_file))
        self.runtime = Runtime()
        self.alerts_topic = app.topic(s.topic("alerts"), key_serializer="raw",
                                      value_serializer="raw", internal=False)

    @property
    def agg_table(self) -> Any:
        return self.agg.table

    def agg_entries(self) -> Iterator[tuple[str, int, float, float, dict[str, Any]]]:
        """(topic, partition, start, end, raw record) of every retained window."""
        for key, raw in list(self.agg_table.data.items()):
            name, (start, end) = key
            topic, _, part = str(name).rpartition("|")
            if raw:
                yield topic, int(part), float(start), float(end), raw

    def sweep(self, now: float) -> int:
        """Delete windows past their expiry that faust's own cleanup does not
        track (those restored from the changelog at start-up)."""
        removed = 0
        for table, keep in ((self.agg_table, self.settings.retention_s),
                            (self.seen.table, self.settings.dedupe_ttl_s),
                            (self.last_pred.table, 2 * self.settings.retention_s)):
            for key in [k for k in list(table.data.keys()) if k[1][1] < now - keep]:
                del table[key]
                removed += 1
        self.seen.prune(now)
        self.last_pred.prune(now)
        return removed
