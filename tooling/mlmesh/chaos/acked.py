"""A producer that remembers what the cluster acknowledged, for broker faults.

:class:`AckedWriter` produces numbered records (value ``<run>:<seq>``) with the
mesh's producer settings (idempotent, ``acks=all``) from a thread, at a steady
rate, and records per record the time it was sent and the time and outcome of
its delivery report. :func:`audit` then reads the topic back and compares:
every acknowledged record present exactly once is the claim a broker fault
must not break. Records never acknowledged may be present (a write that landed
while its report was lost) and are counted, not failed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Producer

from mlmesh.kafka.config import producer_config


@dataclass
class Delivery:
    sent: float  # monotonic
    done: float | None = None
    error: str | None = None


@dataclass
class AckedWriter:
    bootstrap: str
    topic: str
    rate: float = 2000.0  # records per second
    run: str = "w"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deliveries: dict[int, Delivery] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._producer = Producer(producer_config(self.bootstrap, f"acked-{self.run}",
                                                  **self.extra))
        self._thread = threading.Thread(target=self._loop, name=f"acked-{self.run}",
                                        daemon=True)
        self.seq = 0

    def start(self) -> AckedWriter:
        self._thread.start()
        return self

    def _report(self, seq: int) -> Any:
        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            with self._lock:
                d = self.deliveries[seq]
                d.done = time.monotonic()
                d.error = None if err is None else err.name()
        return on_delivery

    def _loop(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            due = int((time.monotonic() - t0) * self.rate) - self.seq
            for _ in range(min(due, 1000)):
                seq = self.seq
                with self._lock:
                    self.deliveries[seq] = Delivery(sent=time.monotonic())
                try:
                    self._producer.produce(self.topic, f"{self.run}:{seq}".encode(),
                                           f"u{seq % 997}".encode(),
                                           on_delivery=self._report(seq))
                except BufferError:  # the local queue is full: the cluster takes no writes
                    with self._lock:
                        del self.deliveries[seq]
                    t0 += 0.005  # what could not be sent is not owed later
                    break
                self.seq += 1
            self._producer.poll(0.005)

    def stop(self, flush_s: float = 90.0) -> int:
        """Stop producing; wait up to ``flush_s`` for outstanding reports;
        returns how many are still outstanding."""
        self._stop.set()
        self._thread.join(10)
        return int(self._producer.flush(flush_s))

    # ---- what happened -------------------------------------------------------
    def snapshot(self) -> dict[int, Delivery]:
        with self._lock:
            return {k: Delivery(v.sent, v.done, v.error) for k, v in self.deliveries.items()}

    def acked(self) -> set[int]:
        return {k for k, d in self.snapshot().items() if d.done is not None and d.error is None}

    def acked_between(self, t0: float, t1: float) -> int:
        """Records acknowledged (report received) in [t0, t1) (monotonic)."""
        return sum(1 for d in self.snapshot().values()
                   if d.done is not None and d.error is None and t0 <= d.done < t1)

    def latencies_ms(self, t0: float, t1: float) -> list[float]:
        """Send -> acknowledgement of the records sent in [t0, t1)."""
        return sorted((d.done - d.sent) * 1000 for d in self.snapshot().values()
                      if d.done is not None and d.error is None and t0 <= d.sent < t1)

    def errors(self) -> Counter[str]:
        return Counter(d.error for d in self.snapshot().values() if d.error)


@dataclass
class AckAudit:
    acked: int
    present: int
    lost: list[int]  # acknowledged, not in the topic
    duplicated: list[int]  # in the topic more than once
    unacked_present: int  # in the topic without an acknowledgement (not a failure)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated

    def to_dict(self) -> dict[str, Any]:
        return {"acked": self.acked, "present": self.present, "lost": len(self.lost),
                "lost_first": self.lost[:10], "duplicated": len(self.duplicated),
                "duplicated_first": self.duplicated[:10],
                "unacked_present": self.unacked_present, "ok": self.ok}


def audit(writer: AckedWriter, values: list[bytes | None]) -> AckAudit:
    """Compare the writer's acknowledgements with the topic's ``values``."""
    prefix = f"{writer.run}:".encode()
    seen = Counter(int(v[len(prefix):]) for v in values if v and v.startswith(prefix))
    acked = writer.acked()
    return AckAudit(acked=len(acked), present=len(seen),
                    lost=sorted(acked - set(seen)),
                    duplicated=sorted(k for k, n in seen.items() if n > 1),
                    unacked_present=len(set(seen) - acked))
