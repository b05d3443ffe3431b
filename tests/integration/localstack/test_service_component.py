"""ServiceComponent runs a real `python -m` server, probes it and stops it cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmesh.localstack.base import free_port, pid_alive, port_open
from mlmesh.localstack.service import ServiceComponent, http_probe


def test_http_service_lifecycle(tmp_path: Path) -> None:
    port = free_port()
    svc = ServiceComponent("web", "http.server", tmp_path, args=[str(port), "-b", "127.0.0.1"],
                           health_probe=http_probe(f"http://127.0.0.1:{port}/"),
                           addresses={"http": f"http://127.0.0.1:{port}/"})
    assert not svc.status().running
    svc.start(timeout=30)
    st = svc.status()
    assert st.running and st.healthy and st.pid is not None
    svc.start(timeout=5)  # idempotent: same process
    assert svc.status().pid == st.pid
    svc.stop(timeout=10)
    assert not pid_alive(st.pid) and not port_open(port)
    assert not svc.status().running


def test_crashing_service_reports_its_log(tmp_path: Path) -> None:
    svc = ServiceComponent("bad", "no_such_module_xyz", tmp_path)
    with pytest.raises(RuntimeError, match="No module named"):
        svc.start(timeout=30)
    assert not svc.status().running
