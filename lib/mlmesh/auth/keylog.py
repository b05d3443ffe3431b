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
import os
import socket
import threading
import time
import uuid

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from mlmesh.auth.keys import KeyRecord
from mlmesh.kafka.config import consumer_config, producer_config

log = logging.getLogger(__name__)
DEFAULT_TOPIC = "api-keys"


class KeyLog:
    """Follows the key topic; also its writer (``put``)."""

    def __init__(self, bootstrap: str, topic: str = DEFAULT_TOPIC,
                 extra: dict[str, str] | None = None) -> None:
        self.topic = topic
        self._bootstrap, self._extra = bootstrap, extra
        client = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._consumer = Consumer(consumer_config(
            bootstrap, f"keys-follower-{client}", f"keys-{client}", extra=extra,
            enable_partition_eof=True, fetch_wait_max_ms=100))
        self._producer: Producer | None = None
        self._cond = threading.Condition()
        self._records: dict[str, KeyRecord] = {}
        self._position = -1
        self._caught_up = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keys-follower", daemon=True)

    def start(self, timeout: float = 30.0) -> KeyLog:
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._thread.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._caught_up, timeout):
                self.close()
                raise TimeoutError(f"key topic {self.topic!r}: not read to its end within "
                                   f"{timeout:.0f} s (does it exist?)")
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is not None:
                self._handle(msg)

    def _handle(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                with self._cond:
                    self._caught_up = True
                    self._cond.notify_all()
            else:
                log.warning("key topic error", extra={"error": str(err)})
            return
        offset = int(msg.offset() or 0)
        key_id = (msg.key() or b"").decode(errors="replace")
        record: KeyRecord | None = None
        if msg.value() is not None:
            try:
                record = KeyRecord.from_dict(json.loads(msg.value() or b"{}"))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("invalid key record ignored (the key stays as it was)",
                          extra={"offset": offset, "key_id": key_id, "error": str(exc)})
                with self._cond:
                    self._position = offset
                    self._cond.notify_all()
                return
        with self._cond:
            if record is None:  # a tombstone: the key is gone
                self._records.pop(key_id, None)
            elif record.key_id == key_id:
                self._records[key_id] = record
            self._position = offset
            self._cond.notify_all()

    def get(self, key_id: str) -> KeyRecord | None:
        with self._cond:
            return self._records.get(key_id)

    def records(self) -> list[KeyRecord]:
        with self._cond:
            return sorted(self._records.values(), key=lambda r: r.created_at_ms)

    def put(self, record: KeyRecord, timeout: float = 15.0) -> None:
        """Write ``record`` and wait until this follower has read it back."""
        if self._producer is None:
            self._producer = Producer(producer_config(
                self._bootstrap, f"keys-writer-{os.getpid()}", extra=self._extra,
                linger_ms=0, message_timeout_ms=int(timeout * 1000)))
        result: dict[str, object] = {}

        def delivered(err: KafkaError | None, msg: Message) -> None:
            result["err"], result["offset"] = err, msg.offset()

        self._producer.produce(self.topic, key=record.key_id.encode(), partition=0,
                               value=json.dumps(record.to_dict()).encode(),
                               on_delivery=delivered)
        self._producer.flush(timeout)
        if "err" not in result:
            raise TimeoutError(f"key change not acknowledged within {timeout:.0f} s")
        if result["err"] is not None:
            raise RuntimeError(f"key change not written: {result['err']}")
        at = int(result["offset"])  # type: ignore[call-overload]
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.wait_for(lambda: self._position >= at,
                                max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._consumer.close()
        if self._producer is not None:
            self._producer.flush(5)
