"""librdkafka configurations with the mesh's defaults in one place."""

from __future__ import annotations

from typing import Any


def producer_config(bootstrap: str, client_id: str, *, transactional_id: str | None = None,
                    extra: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Idempotent producer, ``acks=all``, murmur2 partitioner (Java's default, so
    Java clients and Flink put a user_id on the same partition)."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 200000,
        "message.timeout.ms": 120000,
    }
    if transactional_id:
        cfg["transactional.id"] = transactional_id
        cfg["transaction.timeout.ms"] = 60000
        cfg["message.timeout.ms"] = 60000  # must not exceed the transaction timeout
    cfg.update(extra or {})
    cfg.update({k.replace("_", "."): v for k, v in overrides.items()})
    return cfg


def consumer_config(bootstrap: str, group_id: str, client_id: str, *,
                    extra: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Manual commits, read_committed (never see aborted transactional writes)."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 10000,
        "max.poll.interval.ms": 300000,
    }
    cfg.update(extra or {})
    cfg.update({k.replace("_", "."): v for k, v in overrides.items()})
    return cfg
