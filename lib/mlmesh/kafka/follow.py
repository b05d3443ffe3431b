"""Follow a one-partition control topic from its start, in a thread of its own,
with no consumer group (nothing committed): the shape of the mesh's shared
control logs (the rollout log, the API key log). A subclass applies each
record (:meth:`TopicFollower._apply`); the base tracks the position read, says
when the end was first reached, waits for an offset, and writes a record with
its delivery report checked (:meth:`TopicFollower._write`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from mlmesh.kafka.config import consumer_config, producer_config

log = logging.getLogger(__name__)


class TopicFollower:
    def __init__(self, bootstrap: str, topic: str, name: str,
                 extra: dict[str, str] | None = None) -> None:
        self.topic, self.name = topic, name
        self._bootstrap, self._extra = bootstrap, extra
        client = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._consumer = Consumer(consumer_config(
            bootstrap, f"{name}-follower-{client}", f"{name}-{client}", extra=extra,
            enable_partition_eof=True, fetch_wait_max_ms=100))
        self._producer: Producer | None = None
        self._cond = threading.Condition()
        self._position = -1  # offset of the last record read (applied or not)
        self._caught_up = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-follower", daemon=True)

    def _apply(self, msg: Message, offset: int) -> None:
        """One record, in offset order (called from the follower thread; take
        ``self._cond`` around shared state)."""
        raise NotImplementedError

    def _follow(self, timeout: float) -> None:
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._thread.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._caught_up, timeout):
                self.close()
                raise TimeoutError(f"{self.name} topic {self.topic!r}: not read to its end "
                                   f"within {timeout:.0f} s (does it exist?)")

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
                log.warning("control topic error", extra={"topic": self.topic,
                                                          "error": str(err)})
            return
        offset = int(msg.offset() or 0)
        self._apply(msg, offset)
        with self._cond:
            self._position = offset
            self._cond.notify_all()

    def _wait_read(self, offset: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._position >= offset, timeout)

    def _write(self, key: bytes, value: bytes, timeout: float) -> int:
        """Produce one record to partition 0 (idempotent, acks=all) and return
        its offset once acknowledged; a refusal or no answer is an error."""
        if self._producer is None:
            cfg = producer_config(self._bootstrap, f"{self.name}-writer-{os.getpid()}",
                                  extra=self._extra, linger_ms=0,
                                  message_timeout_ms=int(timeout * 1000))
            # librdkafka's own lines (a coordinator still loading, ...) through
            # logging, not straight to the caller's stderr
            self._producer = Producer({**cfg, "logger": log})
        result: dict[str, object] = {}

        def delivered(err: KafkaError | None, msg: Message) -> None:
            result["err"], result["offset"] = err, msg.offset()

        self._producer.produce(self.topic, key=key, partition=0, value=value,
                               on_delivery=delivered)
        self._producer.flush(timeout)
        if "err" not in result:
            raise TimeoutError(f"{self.name} change not acknowledged within {timeout:.0f} s")
        if result["err"] is not None:
            raise RuntimeError(f"{self.name} change not written: {result['err']}")
        return int(result["offset"])  # type: ignore[call-overload]

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._consumer.close()
        if self._producer is not None:
            self._producer.flush(5)
