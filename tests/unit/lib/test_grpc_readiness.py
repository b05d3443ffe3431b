"""Readiness = "can answer, possibly degraded": a degradable dependency going
down leaves the server SERVING (its own dependency health turns NOT_SERVING
and the gauge reads 0); a required one takes the server out of rotation."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from mlmesh.grpcx.server import GrpcServer, dependency_service

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SVC = "mlmesh.test.v1.Thing"


class Deps:
    def __init__(self) -> None:
        self.up = {"model": True, "store": True}

    def probe(self, name: str) -> bool:
        if not self.up[name]:
            raise ConnectionError(f"{name} down")  # a probe may raise, not only say False
        return True


@pytest.fixture
def served() -> Iterator[tuple[GrpcServer, Deps, grpc.Channel, InMemoryMetricReader]]:
    deps = Deps()
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    server = GrpcServer(name="readiness", address="127.0.0.1:0", service_names=[SVC],
                        register=lambda s: None,
                        dependencies={"model": lambda: deps.probe("model"),
                                      "store": lambda: deps.probe("store")},
                        degradable=("store",), meter=meter, health_interval=3600)
    port = server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield server, deps, ch, reader
    server.stop(0)


def _status(ch: grpc.Channel, service: str) -> int:
    return int(health_pb2_grpc.HealthStub(ch).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def _gauge(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    assert data is not None
    return {str(p.attributes["dependency"]): int(p.value)
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == "mlmesh_dependency_up" for p in m.data.data_points}


def test_degradable_dependency_down_keeps_serving(served) -> None:  # type: ignore[no-untyped-def]
    server, deps, ch, reader = served
    assert [_status(ch, s) for s in ("", SVC)] == [SERVING, SERVING]
    deps.up["store"] = False
    assert server.check_dependencies() is True
    assert [_status(ch, s) for s in ("", SVC)] == [SERVING, SERVING]
    assert _status(ch, dependency_service("store")) == NOT_SERVING
    assert _status(ch, dependency_service("model")) == SERVING
    assert _gauge(reader) == {"model": 1, "store": 0}
    deps.up["store"] = True
    server.check_dependencies()
    assert _status(ch, dependency_service("store")) == SERVING
    assert _gauge(reader) == {"model": 1, "store": 1}


def test_required_dependency_down_is_not_serving(served) -> None:  # type: ignore[no-untyped-def]
    server, deps, ch, reader = served
    deps.up["model"] = False
    assert server.check_dependencies() is False
    assert [_status(ch, s) for s in ("", SVC)] == [NOT_SERVING, NOT_SERVING]
    assert _status(ch, dependency_service("model")) == NOT_SERVING
    assert _gauge(reader)["model"] == 0
    deps.up["model"] = True
    assert server.check_dependencies() is True
    assert _status(ch, SVC) == SERVING


def test_degradable_needs_a_probe() -> None:
    with pytest.raises(ValueError, match="no probe"):
        GrpcServer(name="x", address="127.0.0.1:0", service_names=[], register=lambda s: None,
                   dependencies={}, degradable=("milvus",))
