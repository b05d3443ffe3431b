"""The key log: every API key record on one compacted Kafka topic (``api-keys``,
one partition, key = key id, value = the record as JSON; the newest record of
an id is its state). Every replica of every service that checks keys follows
it from the start with no consumer group, so a key created, rotated or revoked
anywhere takes effect on every replica at fetch latency (sub-second here).

Why Kafka: every service already holds a Kafka connection, and the mesh's other
shared control state (the rollout log) lives there too; no extra server to run.
"""

from __future__ import annotations

import json
import logging

from confluent_kafka import Message

from mlmesh.auth.keys import KeyRecord
from mlmesh.kafka.follow import TopicFollower

log = logging.getLogger(__name__)
DEFAULT_TOPIC = "api-keys"


class KeyLog(TopicFollower):
    """Follows the key topic; also its writer (``put``)."""

    def __init__(self, bootstrap: str, topic: str = DEFAULT_TOPIC,
                 extra: dict[str, str] | None = None) -> None:
        super().__init__(bootstrap, topic, "keys", extra)
        self._records: dict[str, KeyRecord] = {}

    def start(self, timeout: float = 30.0) -> KeyLog:
        self._follow(timeout)
        return self

    def _apply(self, msg: Message, offset: int) -> None:
        key_id = (msg.key() or b"").decode(errors="replace")
        if msg.value() is None:  # a tombstone: the key is gone
            with self._cond:
                self._records.pop(key_id, None)
            return
        try:
            record = KeyRecord.from_dict(json.loads(msg.value() or b"{}"))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("invalid key record ignored (the key stays as it was)",
                      extra={"offset": offset, "key_id": key_id, "error": str(exc)})
            return
        if record.key_id == key_id:
            with self._cond:
                self._records[key_id] = record

    def get(self, key_id: str) -> KeyRecord | None:
        with self._cond:
            return self._records.get(key_id)

    def records(self) -> list[KeyRecord]:
        with self._cond:
            return sorted(self._records.values(), key=lambda r: r.created_at_ms)

    def put(self, record: KeyRecord, timeout: float = 15.0) -> None:
        """Write ``record`` and wait until this follower has read it back."""
        offset = self._write(record.key_id.encode(), json.dumps(record.to_dict()).encode(),
                             timeout)
        self._wait_read(offset, timeout)
