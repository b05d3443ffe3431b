"""Protobuf (de)serialisation with clear errors, and the proto3 JSON mapping."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

M = TypeVar("M", bound=Message)


class SerdeError(ValueError):
    """A payload that cannot be decoded; ``error_class`` names the kind."""

    def __init__(self, error_class: str, reason: str) -> None:
        super().__init__(reason)
        self.error_class = error_class
        self.reason = reason


def decode(cls: type[M], data: bytes | None) -> M:
    if not data:
        raise SerdeError("decode", f"empty payload, expected {cls.DESCRIPTOR.full_name}")
    msg = cls()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise SerdeError("decode", f"not a valid {cls.DESCRIPTOR.full_name}: {exc}") from exc
    return msg


def from_json(cls: type[M], obj: dict[str, Any] | str) -> M:
    msg = cls()
    try:
        if isinstance(obj, str):
            json_format.Parse(obj, msg)
        else:
            json_format.ParseDict(obj, msg)
    except json_format.ParseError as exc:
        raise SerdeError("json", str(exc)) from exc
    return msg


def to_json_dict(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


# The record's own time field, by message type: it becomes the Kafka record
# timestamp, which event-time consumers (the features job's per-partition
# watermarks) read. Without it the broker stamps "now", and any record whose
# event time is older than the watermark bound would be judged late.
_TIME_FIELDS = ("event_time", "created_at", "label_time")


@functools.lru_cache(maxsize=64)
def time_field(descriptor: Any) -> str | None:
    """Name of the message type's own time field (None when it has none)."""
    fields = descriptor.fields_by_name
    return next((name for name in _TIME_FIELDS if name in fields), None)


def record_time_ms(msg: Any) -> int | None:
    """Epoch ms of the message's own time field (None when it has none or it is
    unset). The field is looked up once per message type: this is a hot path."""
    name = time_field(msg.DESCRIPTOR)
    if name is None:
        return None
    ts = getattr(msg, name)
    ms = int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000
    return ms if ms > 0 else None
