"""docker/healthcheck.py answers 0/1 from real servers (gRPC health, HTTP, TCP)."""

from __future__ import annotations

import http.server
import importlib.util
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mlmesh.testing.grpcserver import serving

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "docker" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def grpc_health_server() -> Iterator[tuple[str, health.HealthServicer]]:
    servicer = health.HealthServicer()
    with serving(lambda server: health_pb2_grpc.add_HealthServicer_to_server(servicer,
                                                                             server)) as target:
        yield target, servicer


def test_grpc_serving_is_healthy(grpc_health_server: tuple[str, health.HealthServicer]) -> None:
    hc = load_healthcheck()
    target, servicer = grpc_health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert hc.main(["grpc", target]) == 0


def test_grpc_not_serving_is_unhealthy(
    grpc_health_server: tuple[str, health.HealthServicer],
) -> None:
    hc = load_healthcheck()
    target, servicer = grpc_health_server
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert hc.main(["grpc", target]) == 1


def test_grpc_nothing_listening_is_unhealthy() -> None:
    hc = load_healthcheck()
    assert hc.main(["grpc", f"127.0.0.1:{free_port()}"]) == 1


def test_http_and_tcp_modes() -> None:
    hc = load_healthcheck()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/metrics" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        assert hc.main(["http", f"http://127.0.0.1:{port}/metrics"]) == 0
        assert hc.main(["http", f"http://127.0.0.1:{port}/other"]) == 1
        assert hc.main(["tcp", f"127.0.0.1:{port}"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert hc.main(["tcp", f"127.0.0.1:{free_port()}"]) == 1
    assert hc.main(["bogus", "x"]) == 2
