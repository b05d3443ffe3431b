"""One rollout control plane for every replica: the routing policy as a Kafka log.

Topic ``model-rollout`` (one partition, never expires: rollouts are rare and the
log is the audit history). Each record is the whole policy of one model after
one change (JSON, key = model name) with ``revision`` = the previous one's + 1.

* Followers (every inference replica, the CLI, the rollout controller) read the
  partition from its start with no committed group and keep the newest record
  whose revision follows theirs; a record whose revision was already taken is a
  writer that lost a race and is ignored, so every follower ends on the same
  policy in the same order.
* A writer catches up to the end, applies its change, produces revision + 1
  (idempotent, acks=all, delivery report checked) and reads on to its own
  offset: if its record was the one applied it is done, otherwise another
  writer took that revision and it retries on the newer policy (bounded by
  attempts and a deadline). That is compare-and-set on a log: no lock server.

Why Kafka rather than MLflow aliases polled by each replica: every replica
already holds a Kafka connection, a change reaches it at fetch latency instead
of a poll interval, order is total, and the log answers "which version served
user traffic at time T" (:meth:`PolicyLog.served_at`). The registry mirrors each
change onto the model's aliases (``inference.lifecycle.registry``) for people
and tools that look there.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from confluent_kafka import (
    Consumer,
    Message,
    TopicPartition,
)

from inference.router import PolicySource, PolicyStore, RoutingPolicy
from inference.settings import Settings
from mlmesh.kafka.config import consumer_config
from mlmesh.kafka.follow import TopicFollower

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedPolicy:
    offset: int
    policy: RoutingPolicy


class PolicyLog(TopicFollower):
    """Follows the rollout topic for one model; also its compare-and-set writer."""

    def __init__(self, bootstrap: str, topic: str, model: str,
                 extra: dict[str, str] | None = None) -> None:
        super().__init__(bootstrap, topic, "rollout", extra)
        self.model = model
        self.path = f"kafka:{topic}/{model}"  # what status output names as the store
        self._meta: Consumer | None = None
        self._policy = RoutingPolicy()
        self._accepted: list[LoggedPolicy] = []

    # -- following ---------------------------------------------------------
    def start(self, timeout: float = 30.0) -> PolicyLog:
        self._follow(timeout)
        return self

    def _apply(self, msg: Message, offset: int) -> None:
        if (msg.key() or b"").decode(errors="replace") != self.model:
            return
        try:
            policy = RoutingPolicy.from_dict(json.loads(msg.value() or b"{}"))
        except (ValueError, TypeError) as exc:
            log.error("invalid rollout record ignored",
                      extra={"offset": offset, "error": str(exc)})
            return
        with self._cond:
            if policy.revision == self._policy.revision + 1:
                self._policy = policy
                self._accepted.append(LoggedPolicy(offset, policy))
                return
        log.info("rollout record of a taken revision ignored (a writer lost a race)",
                 extra={"offset": offset, "revision": policy.revision})

    def load(self) -> RoutingPolicy | None:
        with self._cond:
            return self._policy if self._policy.revision else None

    def stamp(self) -> object:
        """The revision; None while the log is empty (the router then keeps
        asking its fallback, e.g. until Triton has loaded a version)."""
        return self._policy.revision or None

    def history(self) -> list[LoggedPolicy]:
        with self._cond:
            return list(self._accepted)

    def served_at(self, at_ms: int) -> RoutingPolicy | None:
        """The policy in force at ``at_ms`` (epoch ms), None before the first."""
        current = None
        for entry in self.history():
            if entry.policy.updated_at_ms <= at_ms:
                current = entry.policy
        return current

    def sync(self, timeout: float = 10.0) -> None:
        """Wait until every record written before this call has been read."""
        if self._meta is None:
            # a consumer of its own: the follower thread is inside poll() on the
            # other, and librdkafka calls on one consumer from two threads can hang
            self._meta = Consumer(consumer_config(
                self._bootstrap, f"rollout-meta-{uuid.uuid4().hex[:8]}", "rollout-meta",
                extra=self._extra))
        tp = TopicPartition(self.topic, 0)
        _low, high = self._meta.get_watermark_offsets(tp, timeout=timeout, cached=False)
        with self._cond:
            if not self._cond.wait_for(lambda: self._position >= high - 1, timeout):
                raise TimeoutError(f"rollout topic: not caught up to offset {high - 1}")

    # -- writing -----------------------------------------------------------
    def _produce(self, policy: RoutingPolicy, timeout: float) -> int:
        return self._write(self.model.encode(), json.dumps(policy.to_dict()).encode(), timeout)

    def update(self, change: Callable[[RoutingPolicy], RoutingPolicy | None],
               attempts: int = 5, deadline_s: float = 20.0) -> RoutingPolicy | None:
        """Apply ``change`` to the newest policy and write it (compare-and-set);
        the policy written, or None when ``change`` returned None."""
        deadline = time.monotonic() + deadline_s
        for attempt in range(1, attempts + 1):
            left = max(1.0, deadline - time.monotonic())
            self.sync(timeout=left)
            with self._cond:
                base = self._policy
            new = change(base)
            if new is None:
                return None
            new = replace(new, revision=base.revision + 1)
            offset = self._produce(new, timeout=left)
            with self._cond:
                self._cond.wait_for(lambda at=offset: self._position >= at,  # type: ignore[misc]
                                    max(0.5, deadline - time.monotonic()))
                won = any(e.offset == offset for e in self._accepted[-5:])
            if won:
                return new
            if time.monotonic() >= deadline:
                break
            log.info("rollout change lost a race; retrying", extra={"attempt": attempt})
        raise RuntimeError(f"rollout change not applied after {attempts} attempts "
                           "(other writers kept changing the policy)")

    def close(self) -> None:
        super().close()
        if self._meta is not None:
            self._meta.close()


def open_policy_source(settings: Settings, timeout: float = 30.0) -> PolicySource:
    """The routing file when one is configured, else the rollout log (started)."""
    if settings.routing_file is not None:
        return PolicyStore(settings.routing_file)
    return PolicyLog(settings.kafka_bootstrap, settings.rollout_topic, settings.scorer_model,
                     settings.kafka_extra()).start(timeout)
