"""Each bad request gets its documented status; deadlines are honoured."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from inference.app import Service
from mlmesh.inference.v1 import inference_service_pb2 as pb

BAD = [
    ("Predict", pb.PredictRequest(user_id=""), grpc.StatusCode.INVALID_ARGUMENT),
    ("Predict", pb.PredictRequest(user_id="u" * 65), grpc.StatusCode.INVALID_ARGUMENT),
    ("Predict", pb.PredictRequest(user_id="u\x00x"), grpc.StatusCode.INVALID_ARGUMENT),
    ("Predict", pb.PredictRequest(user_id="u1", k=51), grpc.StatusCode.INVALID_ARGUMENT),
    ("Predict", pb.PredictRequest(user_id="u1", k=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ("Predict", pb.PredictRequest(user_id="u1", text="x" * 4001),
     grpc.StatusCode.INVALID_ARGUMENT),
    ("Search", pb.SearchRequest(user_id="u1", query=" "), grpc.StatusCode.INVALID_ARGUMENT),
    ("Search", pb.SearchRequest(user_id="", query="hi"), grpc.StatusCode.INVALID_ARGUMENT),
    ("Predict", pb.PredictRequest(user_id="u1", text="y" * 70_000),
     grpc.StatusCode.RESOURCE_EXHAUSTED),  # over max_request_bytes
]


@pytest.mark.parametrize(("method", "request_", "code"), BAD)
def test_bad_request_status(inference_env: Any, service: Service, method: str,
                            request_: Any, code: grpc.StatusCode) -> None:
    channel, stub = inference_env.stub(service)
    with channel, pytest.raises(grpc.RpcError) as info:
        getattr(stub, method)(request_, timeout=10)
    assert info.value.code() == code, info.value.details()


def test_tiny_deadline_is_deadline_exceeded(inference_env: Any, service: Service) -> None:
    channel, stub = inference_env.stub(service)
    with channel, pytest.raises(grpc.RpcError) as info:
        stub.Predict(pb.PredictRequest(user_id="u1", text="hello there"), timeout=0.002)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_per_user_rate_limit(inference_env: Any) -> None:
    from inference.app import build

    svc = build(inference_env.settings(user_rate=0.5, user_burst=2,
                                       emit_predictions=False, watch_alerts=False)).start()
    channel, stub = inference_env.stub(svc)
    try:
        with channel:
            for _ in range(2):
                stub.Predict(pb.PredictRequest(user_id="limited"), timeout=10)
            with pytest.raises(grpc.RpcError) as info:
                stub.Predict(pb.PredictRequest(user_id="limited"), timeout=10)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            trailers = dict(info.value.trailing_metadata() or ())
            assert 0 < int(trailers["retry-after-ms"]) <= 2000
            stub.Predict(pb.PredictRequest(user_id="someone-else"), timeout=10)
    finally:
        svc.stop(0)


def test_malformed_request_bytes_are_invalid_argument(service: Service) -> None:
    """Bytes that are not a PredictRequest (invalid UTF-8 in user_id, truncated)
    get INVALID_ARGUMENT with the parser's reason, not INTERNAL."""
    channel = grpc.insecure_channel(f"127.0.0.1:{service.port}")
    predict = channel.unary_unary("/mlmesh.inference.v1.InferenceService/Predict")
    with channel:
        for raw in (b"\x0a\x02\xff\xfe", b"\x0a\x10abc"):
            with pytest.raises(grpc.RpcError) as info:
                predict(raw, timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
            assert "malformed mlmesh.inference.v1.PredictRequest" in info.value.details()
