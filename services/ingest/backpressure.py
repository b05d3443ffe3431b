"""Downstream lag watch: when the consumers of ingest's topics fall too far
behind, ingest refuses new work (RESOURCE_EXHAUSTED / 429 with a retry hint)
until the lag drops below ``threshold * release_ratio`` (hysteresis)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from mlmesh.kafka.committed import CommittedOffsets

log = logging.getLogger(__name__)


def measure_lag(admin: AdminClient, consumer: Consumer, offsets: CommittedOffsets,
                topics: Iterable[str], groups: list[str] | None = None,
                timeout: float = 5.0) -> dict[str, int]:
    """Total lag per consumer group over ``topics`` (end offset - committed).
    Committed offsets come through ``offsets`` (a consumer per group), not the
    admin API, which can abort the process during a broker failure
    (:mod:`mlmesh.kafka.committed`)."""
    topics = set(topics)
    md = consumer.list_topics(timeout=timeout)
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            continue
        for p in tmd.partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            ends[(topic, p)] = high
    if groups is None:
        listing = admin.list_consumer_groups(request_timeout=timeout).result(timeout)
        groups = [g.group_id for g in listing.valid]
    lags: dict[str, int] = {}
    for group in groups:
        try:
            committed = offsets.committed(group, ends)
        except Exception:  # this group's answer failed; the others still count
            continue
        if committed:
            lags[group] = sum(max(0, ends[tp] - off) for tp, off in committed.items())
    return lags


class LagGate:
    """Background thread measuring lag; ``refusing`` says whether to refuse."""

    def __init__(self, measure: Callable[[], dict[str, int]], threshold: int,
                 release_ratio: float, interval_s: float) -> None:
        self.measure = measure
        self.threshold = threshold
        self.release_at = int(threshold * release_ratio)
        self.interval_s = interval_s
        self.refusing = False
        self.lags: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def max_lag(self) -> int:
        return max(self.lags.values(), default=0)

    def update(self, lags: dict[str, int]) -> None:
        self.lags = lags
        worst = self.max_lag
        if not self.refusing and worst > self.threshold:
            self.refusing = True
            log.warning("downstream lag over threshold: refusing", extra={"lag": worst})
        elif self.refusing and worst < self.release_at:
            self.refusing = False
            log.info("downstream lag recovered: accepting", extra={"lag": worst})

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.update(self.measure())
            except Exception as exc:
                log.warning("lag measurement failed", extra={"error": str(exc)})
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lag-gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
