from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from inference.auth import ApiKeyInterceptor, hash_key, parse_keys
from mlmesh.grpcx.server import GrpcServer
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from mlmesh.ratelimit import KeyedLimiter

GOOD = "s3cret-key-for-tests"


class Echo(pb_grpc.InferenceServiceServicer):
    def Predict(self, request: pb.PredictRequest, context: grpc.ServicerContext
                ) -> pb.PredictResponse:
        return pb.PredictResponse(request_id=request.request_id, score=0.5)


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    keys = parse_keys(f"ci:{hash_key(GOOD)}")
    auth = ApiKeyInterceptor(keys, KeyedLimiter(rate=1.0, burst=3), max_request_bytes=256)
    server = GrpcServer(name="auth-test", address="127.0.0.1:0",
                        service_names=["mlmesh.inference.v1.InferenceService"],
                        register=lambda s: pb_grpc.add_InferenceServiceServicer_to_server(
                            Echo(), s), interceptors=[auth])
    port = server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(0)


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.InferenceServiceStub:
    return pb_grpc.InferenceServiceStub(channel)


def _code(fn: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()  # type: ignore[operator]
    return info.value


def test_missing_and_wrong_keys_are_unauthenticated(stub: pb_grpc.InferenceServiceStub,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    req = pb.PredictRequest(user_id="u1")
    assert _code(lambda: stub.Predict(req, timeout=5)).code() == grpc.StatusCode.UNAUTHENTICATED
    err = _code(lambda: stub.Predict(req, metadata=[("x-api-key", "wrong-key")], timeout=5))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    ok = stub.Predict(req, metadata=[("authorization", f"Bearer {GOOD}")], timeout=5)
    assert ok.score == 0.5
    assert "wrong-key" not in caplog.text and GOOD not in caplog.text


def test_rate_limit_gives_resource_exhausted_with_retry_info(
        stub: pb_grpc.InferenceServiceStub) -> None:
    md = [("x-api-key", GOOD)]
    for _ in range(3):
        stub.Predict(pb.PredictRequest(user_id="u1"), metadata=md, timeout=5)
    err = _code(lambda: stub.Predict(pb.PredictRequest(user_id="u1"), metadata=md, timeout=5))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(err.trailing_metadata() or ())
    assert 0 < int(trailers["retry-after-ms"]) <= 1000
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    assert info.retry_delay.seconds + info.retry_delay.nanos / 1e9 > 0


def test_oversized_request_is_refused(stub: pb_grpc.InferenceServiceStub) -> None:
    req = pb.PredictRequest(user_id="u1", text="x" * 1000)
    err = _code(lambda: stub.Predict(req, metadata=[("x-api-key", GOOD)], timeout=5))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds" in (err.details() or "")


def test_health_needs_no_key(channel: grpc.Channel) -> None:
    resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_parse_keys_rejects_plaintext() -> None:
    with pytest.raises(ValueError):
        parse_keys("ci:not-a-hash")
    assert parse_keys("") == {}
