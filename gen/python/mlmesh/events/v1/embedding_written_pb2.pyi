from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmbeddingWritten(_message.Message):
    __slots__ = ("doc_id", "user_id", "chunk_count", "model_name", "model_version", "doc_to_searchable_ms", "model_ms", "written_at", "redactions")
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DOC_TO_SEARCHABLE_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_MS_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_AT_FIELD_NUMBER: _ClassVar[int]
    REDACTIONS_FIELD_NUMBER: _ClassVar[int]
    doc_id: str
    user_id: str
    chunk_count: int
    model_name: str
    model_version: str
    doc_to_searchable_ms: float
    model_ms: float
    written_at: _timestamp_pb2.Timestamp
    redactions: int
    def __init__(self, doc_id: _Optional[str] = ..., user_id: _Optional[str] = ..., chunk_count: _Optional[int] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., doc_to_searchable_ms: _Optional[float] = ..., model_ms: _Optional[float] = ..., written_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., redactions: _Optional[int] = ...) -> None: ...
