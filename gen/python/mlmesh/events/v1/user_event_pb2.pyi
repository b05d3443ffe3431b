from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_VIEW: _ClassVar[Action]
    ACTION_CLICK: _ClassVar[Action]
    ACTION_ADD_TO_CART: _ClassVar[Action]
    ACTION_PURCHASE: _ClassVar[Action]
    ACTION_SEARCH: _ClassVar[Action]
    ACTION_LOGIN: _ClassVar[Action]
    ACTION_LOGOUT: _ClassVar[Action]

class Device(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_UNSPECIFIED: _ClassVar[Device]
    DEVICE_WEB: _ClassVar[Device]
    DEVICE_IOS: _ClassVar[Device]
    DEVICE_ANDROID: _ClassVar[Device]
    DEVICE_API: _ClassVar[Device]
ACTION_UNSPECIFIED: Action
ACTION_VIEW: Action
ACTION_CLICK: Action
ACTION_ADD_TO_CART: Action
ACTION_PURCHASE: Action
ACTION_SEARCH: Action
ACTION_LOGIN: Action
ACTION_LOGOUT: Action
DEVICE_UNSPECIFIED: Device
DEVICE_WEB: Device
DEVICE_IOS: Device
DEVICE_ANDROID: Device
DEVICE_API: Device

class UserEvent(_message.Message):
    __slots__ = ("event_id", "user_id", "event_time", "action", "amount", "item_id", "session_id", "device", "attributes", "ingest_time")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    INGEST_TIME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    user_id: str
    event_time: _timestamp_pb2.Timestamp
    action: Action
    amount: float
    item_id: str
    session_id: str
    device: Device
    attributes: _containers.ScalarMap[str, str]
    ingest_time: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., user_id: _Optional[str] = ..., event_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[_Union[Action, str]] = ..., amount: _Optional[float] = ..., item_id: _Optional[str] = ..., session_id: _Optional[str] = ..., device: _Optional[_Union[Device, str]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., ingest_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
