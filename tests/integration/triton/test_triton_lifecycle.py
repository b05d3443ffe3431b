"""TritonComponent: a busy port fails fast, status reflects the running server."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from mlmesh.localstack.base import free_port
from mlmesh.localstack.triton import TritonComponent
from mlmesh.testing.triton import TritonServer


def test_status_of_running_server(triton_server: TritonServer) -> None:
    if triton_server.container:
        pytest.skip("the launcher's own status: the server runs as a container this session")
    status = triton_server.component.status()
    assert status.running and status.healthy and status.pid
    assert status.addresses["grpc"] == triton_server.grpc_url
    assert triton_server.start_seconds < 60


def test_busy_port_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        comp = TritonComponent(tmp_path, http_port=busy.getsockname()[1],
                               grpc_port=free_port(), metrics_port=free_port())
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match="already in use"):
            comp.start(timeout=60)
    assert time.monotonic() - t0 < 5
    assert not comp.status().running
