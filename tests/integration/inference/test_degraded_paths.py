"""Degraded paths: Milvus down (its server process stopped) -> Predict answers
without retrieval, flagged, Search is UNAVAILABLE, the service stays SERVING
(ready: it can answer, degraded) while its ``mlmesh.dependency.milvus`` health
turns NOT_SERVING; Triton down -> UNAVAILABLE with a clear message and the
service NOT_SERVING (it cannot answer)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from inference.app import build
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.localstack.base import free_port
from mlmesh.localstack.milvus import MilvusComponent

SERVICE = "mlmesh.inference.v1.InferenceService"
MILVUS = "mlmesh.dependency.milvus"


def _health(channel: grpc.Channel, service: str = SERVICE) -> int:
    return int(health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def _wait_health(svc: Any, channel: grpc.Channel, want: int, timeout: float = 20,
                 service: str = SERVICE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc.server.check_dependencies()
        if _health(channel, service) == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"health of {service or 'the server'} never became {want}")


@pytest.fixture
def own_milvus(tmp_path: Path) -> Iterator[MilvusComponent]:
    comp = MilvusComponent(tmp_path, port=free_port(), name="milvus-inference-down")
    comp.start(timeout=90)
    try:
        yield comp
    finally:
        comp.stop()


def test_milvus_down(inference_env: Any, own_milvus: MilvusComponent) -> None:
    from embedder.store import ChunkStore, StoreConfig

    store = ChunkStore(StoreConfig(uri=own_milvus.uri))
    store.ensure()
    user = f"m-{uuid.uuid4().hex[:6]}"
    ids = inference_env.write_chunks(store, user, ["the app logs me out every hour"])
    svc = build(inference_env.settings(milvus_uri=own_milvus.uri, watch_alerts=False)).start()
    channel, stub = inference_env.stub(svc)
    try:
        with channel:
            _wait_health(svc, channel, health_pb2.HealthCheckResponse.SERVING, service=MILVUS)
            ok = stub.Predict(pb.PredictRequest(user_id=user, text="logged out"), timeout=10)
            assert [c.chunk_id for c in ok.chunks] == ids
            assert "retrieval_unavailable" not in ok.degraded_reasons
            own_milvus.stop()  # the Milvus server process is gone
            down = stub.Predict(pb.PredictRequest(user_id=user, text="logged out"), timeout=10)
            assert "retrieval_unavailable" in down.degraded_reasons and down.degraded
            assert not down.chunks and down.model_version and 0 <= down.score <= 1
            with pytest.raises(grpc.RpcError) as info:
                stub.Search(pb.SearchRequest(user_id=user, query="logged out"), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "vector store unavailable" in (info.value.details() or "")
            _wait_health(svc, channel, health_pb2.HealthCheckResponse.NOT_SERVING,
                         service=MILVUS)
            # still ready: a Milvus blip must not take every replica out of rotation
            # (re-probed: a state cached from a probe during another test's
            # Triton reload must not decide it)
            for name in (SERVICE, ""):
                _wait_health(svc, channel, health_pb2.HealthCheckResponse.SERVING, service=name)
            own_milvus.start(timeout=90)  # back: answers recover without a restart
            _wait_health(svc, channel, health_pb2.HealthCheckResponse.SERVING, timeout=60,
                         service=MILVUS)
            deadline = time.monotonic() + 30
            while True:
                again = stub.Predict(pb.PredictRequest(user_id=user, text="logged out"),
                                     timeout=10)
                if "retrieval_unavailable" not in again.degraded_reasons or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert [c.chunk_id for c in again.chunks] == ids
    finally:
        svc.stop(0)


def test_triton_down_is_unavailable(inference_env: Any) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: Triton is down
    svc = build(inference_env.settings(triton_grpc=dead, watch_alerts=False,
                                       emit_predictions=False)).start()
    svc.router.store.update(lambda p: p.set(primary="1"))
    svc.router.reload(force=True)
    channel, stub = inference_env.stub(svc)
    try:
        with channel:
            assert _health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
            for req in (pb.PredictRequest(user_id="u1"), pb.PredictRequest(user_id="u1",
                                                                            text="hello")):
                with pytest.raises(grpc.RpcError) as info:
                    stub.Predict(req, timeout=10)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "unavailable on Triton" in (info.value.details() or "")
            with pytest.raises(grpc.RpcError) as info:
                stub.Search(pb.SearchRequest(user_id="u1", query="hello"), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        svc.stop(0)
