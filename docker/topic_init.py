"""One-shot topic creation for docker-compose (the `topic-init` container).

Waits for the broker, then applies deploy/topics.yaml (the single declaration of
the mesh's topics) with the library's idempotent ``ensure_topics``: missing topics
are created, existing ones grown/reconfigured, and it returns once every topic is
visible in metadata. In Kubernetes, Strimzi KafkaTopic resources play this role
(deploy/k8s/base/kafka/topics.yaml, generated from the same file).

Environment: MLMESH_KAFKA_BOOTSTRAP (host:port), MLMESH_TOPICS_FILE (path),
MLMESH_TOPIC_INIT_TIMEOUT_S (default 180), MLMESH_KAFKA_REPLICATION_FACTOR (every
topic at least this many replicas, default 1: compose's cluster profile sets 3,
and topic-init then waits until that many brokers have registered).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import replace

from confluent_kafka.admin import AdminClient

from mlmesh.kafka.topics import ensure_topics, load_topics

log = logging.getLogger("mlmesh.topic_init")


def wait_for_brokers(admin: AdminClient, deadline: float, brokers: int = 1) -> bool:
    """True once ``brokers`` brokers have registered, False at ``deadline``."""
    while time.monotonic() < deadline:
        try:
            found = len(admin.list_topics(timeout=5).brokers)
            if found >= brokers:
                return True
            log.info("waiting for brokers: %d of %d registered", found, brokers)
        except Exception as exc:  # not up yet: any client error means "retry"
            log.info("waiting for broker: %s", exc)
        time.sleep(1.0)
    return False


def main() -> int:
    logging.basicConfig(level=logging.INFO, format='{"level":"%(levelname)s","msg":"%(message)s"}')
    bootstrap = os.environ.get("MLMESH_KAFKA_BOOTSTRAP", "kafka:9092")
    timeout = float(os.environ.get("MLMESH_TOPIC_INIT_TIMEOUT_S", "180"))
    deadline = time.monotonic() + timeout
    rf = int(os.environ.get("MLMESH_KAFKA_REPLICATION_FACTOR", "1"))
    specs = [replace(s, replication_factor=max(s.replication_factor, rf)) for s in load_topics()]
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    if not wait_for_brokers(admin, deadline, rf):
        log.error("%d broker(s) at %s did not answer within %.0f s", rf, bootstrap, timeout)
        return 1
    created = ensure_topics(admin, specs, timeout=max(10.0, deadline - time.monotonic()))
    log.info("topics applied: %d declared, %d created", len(specs), len(created))
    return 0


if __name__ == "__main__":
    sys.exit(main())
