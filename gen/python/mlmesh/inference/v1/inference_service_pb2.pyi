from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictRequest(_message.Message):
    __slots__ = ("user_id", "text", "request_id", "k")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    text: str
    request_id: str
    k: int
    def __init__(self, user_id: _Optional[str] = ..., text: _Optional[str] = ..., request_id: _Optional[str] = ..., k: _Optional[int] = ...) -> None: ...

class FeatureValue(_message.Message):
    __slots__ = ("name", "value", "age_ms", "defaulted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    DEFAULTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    age_ms: float
    defaulted: bool
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., age_ms: _Optional[float] = ..., defaulted: bool = ...) -> None: ...

class RetrievedChunk(_message.Message):
    __slots__ = ("chunk_id", "doc_id", "similarity", "text")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    chunk_id: str
    doc_id: str
    similarity: float
    text: str
    def __init__(self, chunk_id: _Optional[str] = ..., doc_id: _Optional[str] = ..., similarity: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class StageLatency(_message.Message):
    __slots__ = ("stage", "ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    ms: float
    def __init__(self, stage: _Optional[str] = ..., ms: _Optional[float] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("request_id", "score", "model_name", "model_version", "features", "chunks", "latency", "degraded", "degraded_reasons", "route", "cache_hit")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_REASONS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    score: float
    model_name: str
    model_version: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureValue]
    chunks: _containers.RepeatedCompositeFieldContainer[RetrievedChunk]
    latency: _containers.RepeatedCompositeFieldContainer[StageLatency]
    degraded: bool
    degraded_reasons: _containers.RepeatedScalarFieldContainer[str]
    route: str
    cache_hit: bool
    def __init__(self, request_id: _Optional[str] = ..., score: _Optional[float] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureValue, _Mapping]]] = ..., chunks: _Optional[_Iterable[_Union[RetrievedChunk, _Mapping]]] = ..., latency: _Optional[_Iterable[_Union[StageLatency, _Mapping]]] = ..., degraded: bool = ..., degraded_reasons: _Optional[_Iterable[str]] = ..., route: _Optional[str] = ..., cache_hit: bool = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("user_id", "query", "k", "source", "created_after_ms")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    query: str
    k: int
    source: str
    created_after_ms: int
    def __init__(self, user_id: _Optional[str] = ..., query: _Optional[str] = ..., k: _Optional[int] = ..., source: _Optional[str] = ..., created_after_ms: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("chunks", "model_version", "cache_hit", "latency")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[RetrievedChunk]
    model_version: str
    cache_hit: bool
    latency: _containers.RepeatedCompositeFieldContainer[StageLatency]
    def __init__(self, chunks: _Optional[_Iterable[_Union[RetrievedChunk, _Mapping]]] = ..., model_version: _Optional[str] = ..., cache_hit: bool = ..., latency: _Optional[_Iterable[_Union[StageLatency, _Mapping]]] = ...) -> None: ...
