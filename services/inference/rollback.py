"""Automatic rollback: consume the monitor's ``alerts`` and take a breaching
model version out of traffic by rewriting the routing policy.

An alert counts when it is not a ``resolved`` record, its severity is at least
WARNING, it names a ``model_version`` label that the policy serves (canary,
shadow, or a primary with a ``previous`` to fall back to), its metric is one of
the rollout guards (error rate > 1 %, p95 latency +20 %, quality -3 points: the
monitor evaluates the rules, we act on them), and it was raised after the policy
last changed (an old alert never undoes a newer rollout). The router of every
process reading the file picks the change up within its poll interval.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, Message

from inference.router import PolicySource, RoutingPolicy
from mlmesh.events.v1 import alert_pb2
from mlmesh.kafka.config import consumer_config
from mlmesh.kafka.serde import SerdeError, decode

log = logging.getLogger(__name__)
GUARDED_METRICS = frozenset({"error_rate", "latency_p95", "p95_latency", "latency",
                             "quality", "auc", "accuracy", "quality_drop"})


def breach_version(alert: alert_pb2.Alert, policy: RoutingPolicy) -> str | None:
    """The version this alert should roll back, or None."""
    if alert.resolved or alert.severity < alert_pb2.SEVERITY_WARNING:
        return None
    version = alert.labels.get("model_version", "")
    if not version:
        return None
    metric = (alert.metric or alert.rule).lower()
    if metric not in GUARDED_METRICS and not any(m in alert.rule.lower() for m in
                                                  ("error", "p95", "latency", "quality")):
        return None
    raised_ms = alert.raised_at.seconds * 1000 + alert.raised_at.nanos // 1_000_000
    if raised_ms and raised_ms < policy.updated_at_ms:
        return None
    if version in (policy.canary, policy.shadow) or \
            (version == policy.primary and policy.previous):
        return version
    return None


def apply_alert(store: PolicySource, alert: alert_pb2.Alert) -> RoutingPolicy | None:
    """Roll back what ``alert`` names; the new policy, or None if nothing changed."""

    def change(policy: RoutingPolicy) -> RoutingPolicy | None:
        version = breach_version(alert, policy)
        if version is None:
            return None
        reason = f"alert {alert.rule} {alert.metric}={alert.value:g} > {alert.threshold:g}"
        return policy.rollback(version, reason=reason)

    return store.update(change)


class AlertWatcher:
    def __init__(self, bootstrap: str, topic: str, group: str, store: PolicySource,
                 on_rollback: Callable[[RoutingPolicy], None] | None = None,
                 extra: dict[str, str] | None = None) -> None:
        self.topic = topic
        self.store = store
        self.on_rollback = on_rollback
        # Each replica must see every alert: the group is per process, and it
        # reads the (compacted) topic from the start: alerts raised before the
        # policy last changed are ignored (see breach_version).
        client = f"{socket.gethostname()}-{os.getpid()}"
        self.consumer = Consumer(consumer_config(
            bootstrap, f"{group}-{client}", f"inference-alerts-{client}", extra=extra,
            auto_offset_reset="earliest", enable_auto_commit=True, isolation_level=
            "read_uncommitted", topic_metadata_refresh_interval_ms=2000))
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)

    def start(self) -> AlertWatcher:
        self.consumer.subscribe([self.topic], on_assign=lambda *_: self._assigned.set())
        self._thread.start()
        return self

    def wait_assigned(self, timeout: float) -> bool:
        return self._assigned.wait(timeout)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                msg = self.consumer.poll(0.2)
                if msg is not None:
                    self._handle(msg)
        finally:
            self.consumer.close()

    def _handle(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("alerts consumer error", extra={"error": str(err)})
            return
        try:
            alert = decode(alert_pb2.Alert, msg.value())
        except SerdeError as exc:
            log.warning("undecodable alert ignored", extra={"reason": exc.reason})
            return
        try:
            policy = apply_alert(self.store, alert)
        except Exception:  # a bad policy file must not kill the watcher
            log.exception("rollback failed")
            return
        if policy is not None:
            log.warning("automatic rollback", extra={
                "rule": alert.rule, "version": alert.labels.get("model_version", ""),
                "primary": policy.primary, "canary": policy.canary, "shadow": policy.shadow})
            if self.on_rollback is not None:
                self.on_rollback(policy)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
