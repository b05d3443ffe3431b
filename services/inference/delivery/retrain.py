"""Retrain on drift: a drift alert from the monitor starts one retraining run,
whose version then enters the gated rollout at its shadow step.

An *episode* is the time during which at least one drift alert (rule
``feature_drift`` by default: a served feature's or the score's PSI over its
threshold for the rule's duration, as the monitor evaluates it) is firing: the
first firing alert of an episode starts one retrain; further firing alerts of
the same episode (other features, repeats) do not; the episode ends when every
alert that fired in it is resolved. The consumer group's committed offset keeps
a restart from acting on alerts it already handled; a first start begins at
the end of the topic (no retrain for history).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError

from mlmesh.events.v1 import alert_pb2
from mlmesh.kafka.config import consumer_config
from mlmesh.kafka.serde import SerdeError, decode

log = logging.getLogger(__name__)
DRIFT_RULES = ("feature_drift",)


class DriftRetrainer:
    def __init__(self, bootstrap: str, alerts_topic: str, retrain: Callable[[str], Any],
                 rules: tuple[str, ...] = DRIFT_RULES, group: str = "mlmesh-retrainer",
                 extra: dict[str, str] | None = None, stop: Any = None) -> None:
        """``retrain(reason)`` trains, registers and rolls out one candidate;
        ``stop`` (anything with ``is_set()``, e.g. a StopSignal) ends :meth:`run`."""
        self.topic, self.retrain, self.rules = alerts_topic, retrain, rules
        self.consumer = Consumer(consumer_config(
            bootstrap, group, group, extra=extra, auto_offset_reset="latest",
            isolation_level="read_uncommitted"))  # the monitor's alerts are not transactional
        self.active: set[str] = set()     # alert ids firing in the current episode
        self.episodes = 0
        self.runs: list[Any] = []
        self._worker: threading.Thread | None = None
        self._assigned = threading.Event()
        self.stop = stop if stop is not None else threading.Event()
        self.seen = 0  # alerts read

    def handle(self, alert: alert_pb2.Alert) -> bool:
        """Update the episode with one alert; True when it starts a retrain."""
        if alert.rule not in self.rules:
            return False
        if alert.resolved:
            self.active.discard(alert.alert_id)
            return False
        if alert.severity < alert_pb2.SEVERITY_WARNING or alert.alert_id in self.active:
            return False
        starts = not self.active
        self.active.add(alert.alert_id)
        if not starts:
            return False
        if self._worker is not None and self._worker.is_alive():
            log.info("drift episode began while a retrain still runs: no second retrain")
            return False
        self.episodes += 1
        reason = f"drift: {alert.message or alert.rule}"
        log.warning("drift episode: retraining", extra={"alert": alert.alert_id,
                                                        "labels": dict(alert.labels)})
        self._worker = threading.Thread(target=self._run, args=(reason,), name="retrain")
        self._worker.start()
        return True

    def _run(self, reason: str) -> None:
        try:
            self.runs.append(self.retrain(reason))
        except Exception:  # a failed retrain is logged; the next episode tries again
            log.exception("retrain failed")

    def run(self) -> None:
        self.consumer.subscribe([self.topic], on_assign=lambda *_: self._assigned.set())
        log.info("retrainer watching for drift episodes",
                 extra={"topic": self.topic, "rules": list(self.rules)})
        try:
            while not self.stop.is_set():
                msg = self.consumer.poll(0.5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("alerts consumer error", extra={"error": str(err)})
                    continue
                self.seen += 1
                try:
                    self.handle(decode(alert_pb2.Alert, msg.value()))
                except SerdeError as exc:
                    log.warning("undecodable alert ignored", extra={"reason": exc.reason})
                self.consumer.commit(message=msg, asynchronous=False)
        finally:
            self.consumer.close()
            if self._worker is not None:
                self._worker.join()

    def wait_assigned(self, timeout: float) -> bool:
        return self._assigned.wait(timeout)
