from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictionMade(_message.Message):
    __slots__ = ("request_id", "user_id", "model_name", "model_version", "score", "features", "feature_age_ms", "retrieved_chunk_ids", "latency_ms", "stage_latency_ms", "degraded", "degraded_reasons", "route", "cache_hit", "predicted_at", "error", "cpu_ms")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class StageLatencyMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    RETRIEVED_CHUNK_IDS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STAGE_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_REASONS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CPU_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    user_id: str
    model_name: str
    model_version: str
    score: float
    features: _containers.ScalarMap[str, float]
    feature_age_ms: float
    retrieved_chunk_ids: _containers.RepeatedScalarFieldContainer[str]
    latency_ms: float
    stage_latency_ms: _containers.ScalarMap[str, float]
    degraded: bool
    degraded_reasons: _containers.RepeatedScalarFieldContainer[str]
    route: str
    cache_hit: bool
    predicted_at: _timestamp_pb2.Timestamp
    error: str
    cpu_ms: float
    def __init__(self, request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., score: _Optional[float] = ..., features: _Optional[_Mapping[str, float]] = ..., feature_age_ms: _Optional[float] = ..., retrieved_chunk_ids: _Optional[_Iterable[str]] = ..., latency_ms: _Optional[float] = ..., stage_latency_ms: _Optional[_Mapping[str, float]] = ..., degraded: bool = ..., degraded_reasons: _Optional[_Iterable[str]] = ..., route: _Optional[str] = ..., cache_hit: bool = ..., predicted_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., cpu_ms: _Optional[float] = ...) -> None: ...
