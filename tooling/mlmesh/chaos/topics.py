"""Read a whole topic (read_committed) with partition, offset and timestamp."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlmesh.events.v1 import dead_letter_pb2
from mlmesh.kafka.read import read_to_end


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int


def read_topic(bootstrap: str, topic: str, timeout: float = 120.0,
               isolation: str = "read_committed") -> list[Rec]:
    """Every record from the beginning to the current end of each partition."""
    return [Rec(int(m.partition() or 0), int(m.offset() or 0), m.key(), m.value(),
                int(m.timestamp()[1]))
            for m in read_to_end(bootstrap, topic, isolation=isolation, timeout=timeout,
                                 group_prefix="chaos-audit-", metadata_timeout=15,
                                 extra_config={"fetch.max.bytes": 52428800, "log_level": 3})]


def ts_ms(ts: Any) -> int:
    """A protobuf Timestamp in epoch milliseconds."""
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


def dead_letters(recs: Iterable[Rec]) -> list[dead_letter_pb2.DeadLetter]:
    out = []
    for r in recs:
        try:
            out.append(dead_letter_pb2.DeadLetter.FromString(r.value or b""))
        except Exception:  # a DLQ must hold DeadLetters; count the stranger
            out.append(dead_letter_pb2.DeadLetter(error_class="<not a DeadLetter>"))
    return out
