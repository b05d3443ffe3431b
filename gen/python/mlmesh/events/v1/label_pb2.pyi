from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LabelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_KIND_UNSPECIFIED: _ClassVar[LabelKind]
    LABEL_KIND_FRAUD: _ClassVar[LabelKind]
    LABEL_KIND_BOT: _ClassVar[LabelKind]
    LABEL_KIND_CONVERSION: _ClassVar[LabelKind]
LABEL_KIND_UNSPECIFIED: LabelKind
LABEL_KIND_FRAUD: LabelKind
LABEL_KIND_BOT: LabelKind
LABEL_KIND_CONVERSION: LabelKind

class Label(_message.Message):
    __slots__ = ("label_id", "user_id", "event_id", "kind", "value", "label_time", "observed_at")
    LABEL_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_TIME_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    label_id: str
    user_id: str
    event_id: str
    kind: LabelKind
    value: float
    label_time: _timestamp_pb2.Timestamp
    observed_at: _timestamp_pb2.Timestamp
    def __init__(self, label_id: _Optional[str] = ..., user_id: _Optional[str] = ..., event_id: _Optional[str] = ..., kind: _Optional[_Union[LabelKind, str]] = ..., value: _Optional[float] = ..., label_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., observed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
