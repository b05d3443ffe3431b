from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from inference.auth import ApiKeyInterceptor
from mlmesh.auth.authz import DENIED, Authorizer
from mlmesh.auth.keys import KeyRecord, mint
from mlmesh.grpcx.registration import add_unary_servicer
from mlmesh.grpcx.server import GrpcServer
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from mlmesh.ratelimit import KeyedLimiter

RECORD, GOOD = mint("acme", "u1,acme-*")


class Keys:
    """An in-memory key source (the key log in production)."""

    def __init__(self, *records: KeyRecord) -> None:
        self.records = {r.key_id: r for r in records}

    def get(self, key_id: str) -> KeyRecord | None:
        return self.records.get(key_id)


class Echo(pb_grpc.InferenceServiceServicer):
    def Predict(self, request: pb.PredictRequest, context: grpc.ServicerContext
                ) -> pb.PredictResponse:
        return pb.PredictResponse(request_id=request.request_id, score=0.5)


@contextmanager
def _serving(burst: float) -> Iterator[grpc.Channel]:
    auth = ApiKeyInterceptor(Authorizer(Keys(RECORD)), KeyedLimiter(rate=1.0, burst=burst),
                             max_request_bytes=256)
    server = GrpcServer(name="auth-test", address="127.0.0.1:0",
                        service_names=["mlmesh.inference.v1.InferenceService"],
                        register=lambda s: add_unary_servicer(  # as inference.app does
                            Echo(), pb.DESCRIPTOR.services_by_name["InferenceService"], s,
                            parsed=auth.authorize), interceptors=[auth])
    port = server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(0)


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    with _serving(burst=3) as ch:
        yield ch


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
    forged = GOOD[:-4] + "AAAA"  # a real id with a made-up secret
    err = _code(lambda: stub.Predict(req, metadata=[("x-api-key", forged)], timeout=5))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and err.details() == "invalid API key"
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


def test_a_user_outside_the_keys_tenant_is_denied_without_a_hint(
        caplog: pytest.LogCaptureFixture) -> None:
    with _serving(burst=100) as channel:
        _denied_without_a_hint(pb_grpc.InferenceServiceStub(channel), caplog)


def _denied_without_a_hint(stub: pb_grpc.InferenceServiceStub,
                           caplog: pytest.LogCaptureFixture) -> None:
    md = [("x-api-key", GOOD)]
    assert stub.Predict(pb.PredictRequest(user_id="acme-7"), metadata=md, timeout=5).score == 0.5
    details = set()
    for user in ("globex-1", "u10", "", "ACME-7"):  # case-sensitive; an empty user too
        err = _code(lambda u=user: stub.Predict(pb.PredictRequest(user_id=u), metadata=md,
                                                timeout=5))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, user
        details.add(err.details())
    assert details == {DENIED}  # one text whoever the user is
    logged = [str(vars(r)) for r in caplog.records]
    assert not any(GOOD in r for r in logged)
    assert sum(RECORD.key_id in r and "acme" in r for r in logged) == 4  # id and tenant


def test_revoked_and_expired_keys_are_unauthenticated() -> None:
    rec, key = mint("acme", "*")
    auth = Authorizer(Keys(rec.revoked()))
    with pytest.raises(Exception, match="invalid API key"):
        auth.authenticate(key)
    auth = Authorizer(Keys(KeyRecord(**{**rec.to_dict(), "expires_at_ms": 1})))
    with pytest.raises(Exception, match="invalid API key"):
        auth.authenticate(key)
    assert Authorizer(Keys(rec)).authenticate(key).tenant == "acme"


def test_user_patterns_and_key_records() -> None:
    from mlmesh.auth.keys import UserScope, key_id_of

    scope = UserScope(" acme-*, alice ")
    assert scope.pattern == "acme-*,alice"
    assert scope.allows("acme-1") and scope.allows("alice") and not scope.allows("alice2")
    assert UserScope("*").allows("anyone") and not UserScope("*").allows("")
    for bad in ("", " , ", "a b", "acme-*,"):
        with pytest.raises(ValueError):
            UserScope(bad)
    with pytest.raises(ValueError):
        mint("bad tenant", "*")
    rec, key = mint("acme", "acme-*")
    assert key_id_of(key) == rec.key_id and key_id_of("mlk_zz_x") is None
    assert key not in str(rec.public()) and "digest" not in rec.public()
    assert KeyRecord.from_dict(rec.to_dict()) == rec
    with pytest.raises(ValueError):
        KeyRecord.from_dict({**rec.to_dict(), "users": "a b"})
