"""Downstream lag watch: when the consumers of ingest's topics fall too far
behind, ingest refuses new work (RESOURCE_EXHAUSTED / 429 with a retry hint)
until the lag drops below ``threshold * release_ratio`` (hysteresis)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from mlmesh.kafka.committed import CommittedOffsets, GroupScan
from mlmesh.kafka.config import consumer_config

log = logging.getLogger(__name__)


class LagMeter:
    """Total lag per consumer group over ``topics`` (end offset - committed).

    Committed offsets come through a consumer per group
    (:class:`~mlmesh.kafka.committed.CommittedOffsets`), not the admin API,
    which can abort the process during a broker failure. With no ``groups``
    given, the cluster's groups are scanned (:class:`~mlmesh.kafka.committed.GroupScan`):
    one with no offset on ``topics`` has its consumer closed and is asked
    again only after ``recheck_s``, so a cluster shared with many other groups
    costs one client per group that reads these topics, at most ``limit``. A
    measurement stops between groups when ``stop`` is set (shutdown waits for it)."""

    def __init__(self, bootstrap: str, extra: dict[str, str], topics: Iterable[str],
                 groups: list[str] | None = None, timeout: float = 5.0,
                 recheck_s: float = 60.0, limit: int = 200,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.watcher = Consumer(consumer_config(
            bootstrap, f"ingest-lag-{uuid.uuid4().hex[:8]}", "ingest-lag", extra=extra))
        self.offsets = CommittedOffsets(bootstrap, extra, timeout)
        self.admin = AdminClient({"bootstrap.servers": bootstrap, **extra})
        self.scan = GroupScan(self.admin, self.offsets, limit=limit, recheck_s=recheck_s,
                              timeout=timeout, clock=clock)
        self.topics = set(topics)
        self.groups = groups
        self.timeout = timeout

    def ends(self) -> dict[tuple[str, int], int]:
        md = self.watcher.list_topics(timeout=self.timeout)
        ends: dict[tuple[str, int], int] = {}
        for topic in self.topics:
            tmd = md.topics.get(topic)
            if tmd is None or tmd.error is not None:
                continue
            for p in tmd.partitions:
                _low, high = self.watcher.get_watermark_offsets(TopicPartition(topic, p),
                                                                timeout=self.timeout)
                ends[(topic, p)] = high
        return ends

    def __call__(self, stop: threading.Event) -> dict[str, int]:
        ends = self.ends()
        lags: dict[str, int] = {}
        for group, got in self.scan.answers(ends, self.groups, stop):
            if isinstance(got, KafkaException):  # this group's answer failed; the others count
                log.debug("committed offsets unavailable", extra={"group": group,
                                                                  "error": str(got)})
                continue
            lags[group] = sum(max(0, ends[tp] - off) for tp, off in got.items())
        return lags

    def close(self) -> None:
        self.offsets.close()
        self.watcher.close()


class LagGate:
    """Background thread measuring lag; ``refusing`` says whether to refuse.
    ``measure`` gets the gate's stop event and returns soon after it is set."""

    def __init__(self, measure: Callable[[threading.Event], dict[str, int]], threshold: int,
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
                self.update(self.measure(self._stop))
            except Exception as exc:
                log.warning("lag measurement failed", extra={"error": str(exc)})
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lag-gate", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop measuring; whether the thread ended within ``timeout`` (one
        request in flight may take the client's timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True
