"""A producer that never loses a record silently.

``poll(0)`` after each produce serves delivery reports; a full local queue
(``BufferError``) is back-pressure: we serve callbacks until there is room;
every delivery report is checked, failures are counted and surfaced by
:meth:`MeshProducer.flush`, which also runs at close.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class DeliveryError(RuntimeError):
    """Some records were not acknowledged by the broker."""

    def __init__(self, errors: list[KafkaError]) -> None:
        super().__init__(f"{len(errors)} record(s) failed delivery; first: {errors[0]}")
        self.errors = errors


class MeshProducer:
    def __init__(self, config: dict[str, Any], producer: Producer | None = None) -> None:
        self._producer = producer if producer is not None else Producer(config)
        self._lock = threading.Lock()
        self._errors: list[KafkaError] = []
        self.delivered = 0

    @property
    def raw(self) -> Producer:
        return self._producer

    def _on_delivery(self, user_cb: DeliveryCallback | None) -> DeliveryCallback:
        def cb(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                with self._lock:
                    self._errors.append(err)
                log.error("delivery failed", extra={"topic": msg.topic(), "error": str(err)})
            else:
                self.delivered += 1
            if user_cb is not None:
                user_cb(err, msg)

        return cb

    def produce(self, topic: str, value: bytes, key: str | bytes | None = None,
                headers: list[tuple[str, bytes]] | None = None,
                on_delivery: DeliveryCallback | None = None,
                partition: int | None = None, poll: bool = True,
                timestamp: int | None = None) -> None:
        """Queue one record. ``poll=False`` lets a caller producing a batch serve
        delivery reports once after the batch (``poll(0)``) instead of per record.
        ``timestamp`` (epoch ms, CreateTime): the record's event time; event-time
        consumers (the features job's watermarks) read it."""
        cb = self._on_delivery(on_delivery)
        kwargs: dict[str, Any] = {"key": key, "headers": headers, "on_delivery": cb}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp is not None and timestamp > 0:
            kwargs["timestamp"] = timestamp
        self._queue(topic, value, kwargs)
        if poll:
            self._producer.poll(0)

    def _queue(self, topic: str, value: bytes, kwargs: dict[str, Any]) -> None:
        produce = self._producer.produce
        while True:
            try:
                produce(topic, value, **kwargs)
                return
            except BufferError:
                # Local queue full: back-pressure. Serve delivery reports to make room.
                self._producer.poll(0.05)

    def produce_reported(self, topic: str, value: bytes, key: str | bytes | None,
                         headers: list[tuple[str, str | bytes | None]] | None,
                         on_delivery: DeliveryCallback, timestamp: int = 0) -> None:
        """Queue one record whose delivery report ``on_delivery`` handles itself
        (a batch producer that answers its caller per record, like ingest): no
        wrapper and no keyword dict per record, no poll; failures are the
        callback's to report and do not count in :meth:`flush`. Call :meth:`poll`
        after the batch. ``timestamp`` 0: the producer's clock."""
        try:
            self._producer.produce(topic, value, key, on_delivery=on_delivery,
                                   timestamp=timestamp, headers=headers)
        except BufferError:
            self._queue(topic, value, {"key": key, "on_delivery": on_delivery,
                                       "timestamp": timestamp, "headers": headers})

    def poll(self, timeout: float = 0) -> int:
        return int(self._producer.poll(timeout))

    def take_errors(self) -> list[KafkaError]:
        with self._lock:
            errors, self._errors = self._errors, []
        return errors

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every outstanding delivery report; raise if any failed or
        some are still outstanding after ``timeout``."""
        remaining = self._producer.flush(timeout)
        errors = self.take_errors()
        if errors:
            raise DeliveryError(errors)
        if remaining:
            raise TimeoutError(f"{remaining} record(s) still in flight after {timeout}s")

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
