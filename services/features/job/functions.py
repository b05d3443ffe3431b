"""The job's Python operators (thread mode): dead letters only.

Decoding and encoding run on the JVM (services/features/jvm, SQL functions)
and windows in Flink SQL, so no Python call sits on the path of a good
record; these build the DeadLetter of each rejected or late one.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import MapFunction

from features.job import codec

BYTES = Types.PRIMITIVE_ARRAY(Types.BYTE())
KV = Types.ROW_NAMED(["k", "v"], [BYTES, BYTES])


def utc_ms(value: Any) -> int:
    """A naive UTC ``datetime`` (TIMESTAMP(3) with local zone UTC) -> epoch ms."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return int(value.timestamp() * 1000)
        return calendar.timegm(value.timetuple()) * 1000 + value.microsecond // 1000
    return int(value)


def _opt_bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


class RejectedToDeadLetter(MapFunction):  # type: ignore[misc]
    """(k, payload, part, off, error_class, reason) -> (k, DeadLetter)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def map(self, value: Row) -> Row:
        key = _opt_bytes(value[0])
        return Row(key, codec.dead_letter_bytes(
            original=_opt_bytes(value[1]), key=key, topic=self.topic, partition=value[2],
            offset=value[3], error_class=value[4], reason=value[5]))


class LateToDeadLetter(MapFunction):  # type: ignore[misc]
    """(k, raw, part, off, record_id, ts, wm) -> (k, DeadLetter) with the reason."""

    def __init__(self, topic: str, retention_ms: int = 0) -> None:
        self.topic = topic
        self.retention_ms = retention_ms

    def map(self, value: Row) -> Row:
        key = _opt_bytes(value[0])
        wm = utc_ms(value[6]) if value[6] is not None else -1
        return Row(key, codec.dead_letter_bytes(
            original=_opt_bytes(value[1]), key=key, topic=self.topic, partition=value[2],
            offset=value[3], error_class="late_event",
            reason=codec.late_reason(value[5], wm, self.retention_ms),
            record_id=value[4] or ""))
