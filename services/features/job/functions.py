"""The job's Python operators (thread mode): decode at the edge, encode at the
exit. Windows never run here (Flink SQL does them)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, MapFunction, OutputTag, ProcessFunction
from pyflink.datastream.state import ValueStateDescriptor

from features.catalog import VIEWS, zero_values
from features.job import codec
from mlmesh.kafka.serde import SerdeError

BYTES = Types.PRIMITIVE_ARRAY(Types.BYTE())
KV = Types.ROW_NAMED(["k", "v"], [BYTES, BYTES])
DLQ_TAG = OutputTag("dlq", KV)
EVENT_ROW = Types.ROW_NAMED(
    ["event_id", "user_id", "ts", "slice_last", "action", "amount", "payload", "k", "part", "off"],
    [Types.STRING(), Types.STRING(), Types.LONG(), Types.LONG(), Types.INT(), Types.DOUBLE(),
     BYTES, BYTES, Types.INT(), Types.LONG()])
DOC_ROW = Types.ROW_NAMED(
    ["doc_id", "user_id", "ts", "slice_last", "payload", "k", "part", "off"],
    [Types.STRING(), Types.STRING(), Types.LONG(), Types.LONG(), BYTES, BYTES, Types.INT(),
     Types.LONG()])


def utc_ms(value: Any) -> int:
    """A naive UTC ``datetime`` (TIMESTAMP(3) with local zone UTC) -> epoch ms."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return int(value.timestamp() * 1000)
        return calendar.timegm(value.timetuple()) * 1000 + value.microsecond // 1000
    return int(value)


def _opt_bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


class DecodeEvents(ProcessFunction):  # type: ignore[misc]
    """Kafka row (k, v, part, off, kts) -> event row; bad payloads -> DLQ tag."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        raw = _opt_bytes(value[1])
        key = _opt_bytes(value[0])
        try:
            ev = codec.decode_event(raw)
        except SerdeError as exc:
            yield DLQ_TAG, Row(key, codec.dead_letter_bytes(
                original=raw, key=key, topic=self.topic, partition=value[2], offset=value[3],
                error_class=exc.error_class, reason=exc.reason))
            return
        yield Row(ev.event_id, ev.user_id, ev.ts, ev.slice_last, ev.action, ev.amount, raw,
                  key, value[2], value[3])


class DecodeDocuments(ProcessFunction):  # type: ignore[misc]
    def __init__(self, topic: str) -> None:
        self.topic = topic

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        raw = _opt_bytes(value[1])
        key = _opt_bytes(value[0])
        try:
            doc = codec.decode_document(raw)
        except SerdeError as exc:
            yield DLQ_TAG, Row(key, codec.dead_letter_bytes(
                original=raw, key=key, topic=self.topic, partition=value[2], offset=value[3],
                error_class=exc.error_class, reason=exc.reason))
            return
        yield Row(doc.doc_id, doc.user_id, doc.ts, doc.slice_last, raw, key, value[2], value[3])


class LateToDeadLetter(MapFunction):  # type: ignore[misc]
    """(k, raw, part, off, record_id, ts, wm) -> (k, DeadLetter) with the reason."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def map(self, value: Row) -> Row:
        key = _opt_bytes(value[0])
        wm = utc_ms(value[6]) if value[6] is not None else -1
        return Row(key, codec.dead_letter_bytes(
            original=_opt_bytes(value[1]), key=key, topic=self.topic, partition=value[2],
            offset=value[3], error_class="late_event", reason=codec.late_reason(value[5], wm),
            record_id=value[4] or ""))


class FeatureEmitter(KeyedProcessFunction):  # type: ignore[misc]
    """Window result -> FeatureUpdate bytes, keyed by user_id|view. For sliding
    views it also emits the *zero* row of the first empty window after a
    user's last non-empty one (an event-time timer one slide later), so an
    idle user's features read 0 once their window has passed."""

    def open(self, runtime_context: Any) -> None:
        # Cleared by the timer: no TTL needed (the state lives one slide).
        self.last_end = runtime_context.get_state(ValueStateDescriptor("last_end", Types.LONG()))

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Row]:
        user_id, view = value[0], value[1]
        start, end = utc_ms(value[2]), utc_ms(value[3])
        vals = {k: float(v) if v is not None else 0.0 for k, v in (value[4] or {}).items()}
        yield Row(user_id.encode(), codec.feature_update_bytes(
            user_id=user_id, view=view, window_start_ms=start, window_end_ms=end, values=vals,
            max_event_ms=value[5]))
        spec = VIEWS[view]
        if spec.sliding:
            prev = self.last_end.value()
            if prev is None or end > prev:
                self.last_end.update(end)
                ctx.timer_service().register_event_time_timer(end + spec.slide_ms - 1)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Row]:
        user_id, _, view = str(ctx.get_current_key()).rpartition("|")
        spec = VIEWS[view]
        last = self.last_end.value()
        if last is None or last + spec.slide_ms - 1 != timestamp:
            return  # a newer window arrived meanwhile; its own timer decides
        self.last_end.clear()
        end = last + spec.slide_ms
        yield Row(user_id.encode(), codec.feature_update_bytes(
            user_id=user_id, view=view, window_start_ms=end - spec.size_ms, window_end_ms=end,
            values=zero_values(view), max_event_ms=None))

