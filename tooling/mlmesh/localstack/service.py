"""A mesh service (``python -m <module>``) as a local stack component.

Register one per service in ``stack.COMPONENTS`` with a factory such as::

    def ingest_factory(ctx: StackContext) -> Component:
        return ServiceComponent(
            "ingest", "ingest", ctx.state_dir,
            env=ctx.service_env(MLMESH_INGEST_GRPC_ADDRESS="127.0.0.1:18051"),
            health_probe=grpc_health_probe("127.0.0.1:18051"),
            addresses={"grpc": "127.0.0.1:18051"},
        )
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mlmesh.localstack.base import (
    ComponentStatus,
    ProcessRecord,
    live_record,
    recorded_status,
    spawn,
    stop_recorded,
    wait_healthy,
)
from mlmesh.localstack.paths import repo_root

Probe = Callable[[], bool]


def grpc_serving(address: str, services: Sequence[str],
                 timeout: float = 2.0) -> dict[str, bool]:
    """``grpc.health.v1.Health/Check`` of each of ``services`` over one channel:
    True where SERVING (an unknown service, or no answer, is False)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from mlmesh.client_settings import ClientSettings

    got: dict[str, bool] = {}
    with ClientSettings().channel(address) as channel:  # TLS under `mlmesh up --tls`
        stub = health_pb2_grpc.HealthStub(channel)
        for service in services:
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(service=service),
                                  timeout=timeout)
                got[service] = resp.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                got[service] = False
    return got


def grpc_health_probe(address: str, service: str = "", timeout: float = 2.0) -> Probe:
    """A probe answering True when ``grpc.health.v1.Health/Check`` says SERVING."""
    return lambda: grpc_serving(address, [service], timeout)[service]


def grpc_dependencies(address: str, names: Sequence[str],
                      timeout: float = 2.0) -> Callable[[], dict[str, bool]]:
    """Each dependency's state as a mesh gRPC server publishes it (the health
    service ``mlmesh.dependency.<name>``, see ``mlmesh.grpcx.server``; not
    published yet reads as down)."""

    def states() -> dict[str, bool]:
        from mlmesh.grpcx.server import dependency_service

        got = grpc_serving(address, [dependency_service(n) for n in names], timeout)
        return {n: got[dependency_service(n)] for n in names}

    return states


def http_probe(url: str, timeout: float = 2.0) -> Probe:
    """A probe answering True on an HTTP 2xx from ``GET url``."""

    def probe() -> bool:
        import httpx

        return httpx.get(url, timeout=timeout).is_success

    return probe


def source_pythonpath(existing: str | None = None) -> str:
    """``lib:tooling:gen/python:services`` of this checkout, before ``existing``."""
    root = repo_root()
    parts = [str(root / p) for p in ("lib", "tooling", "gen/python", "services")]
    if existing:
        parts.append(existing)
    return os.pathsep.join(parts)


class ServiceComponent:
    """``<python> -m <module> [args]`` with ``env``; healthy when ``health_probe`` is."""

    def __init__(self, name: str, module: str, state_dir: Path,
                 env: Mapping[str, str] | None = None, health_probe: Probe | None = None,
                 addresses: Mapping[str, str] | None = None, args: Sequence[str] = (),
                 python: str | None = None, cwd: Path | None = None,
                 settle_seconds: float = 1.0,
                 dependencies: Callable[[], dict[str, bool]] | None = None) -> None:
        self.name = name
        self.module = module
        self.state_dir = Path(state_dir).resolve()
        self.env = dict(env or {})
        self.health_probe = health_probe
        self.addresses = dict(addresses or {})
        self.args = list(args)
        self.python = python or sys.executable
        self.cwd = cwd or repo_root()
        self.log_path = self.state_dir / "logs" / f"{name}.log"
        self.run_dir = self.state_dir / "run"
        self._proc: subprocess.Popen[bytes] | None = None
        # Without a probe: healthy once alive this long (an import error exits sooner).
        self.settle_seconds = settle_seconds
        self.dependencies = dependencies

    def _healthy(self) -> bool:
        if self.health_probe is None:
            rec = live_record(self.run_dir, self.name)
            return rec is not None and time.time() - rec.started_at >= self.settle_seconds
        try:
            return self.health_probe()
        except Exception:  # a server still starting refuses in many ways
            return False

    def start(self, timeout: float = 120.0) -> None:
        rec = live_record(self.run_dir, self.name)
        pid = rec.pid if rec else None
        if pid is None:
            env = {**os.environ, **self.env}
            env["PYTHONPATH"] = source_pythonpath(os.environ.get("PYTHONPATH"))
            proc = spawn([self.python, "-m", self.module, *self.args], self.log_path,
                         env=env, cwd=self.cwd)
            pid = proc.pid
            ProcessRecord(self.name, pid, self.addresses, str(self.log_path),
                          time.time()).save(self.run_dir)
            self._proc = proc
        wait_healthy(pid, self._healthy, timeout, self.name, self.log_path, proc=self._proc,
                     on_failure=self.stop)

    def stop(self, timeout: float = 30.0) -> None:
        stop_recorded(self.run_dir, self.name, self._proc, timeout)
        self._proc = None

    def status(self) -> ComponentStatus:
        st = recorded_status(self.name, self.run_dir, self.addresses, self._healthy,
                             "not serving", ok="serving")
        if st.healthy and self.dependencies is not None:
            try:
                st.dependencies = self.dependencies()
            except Exception as exc:  # a status line never fails on a probe
                st.detail = f"serving (dependencies unknown: {exc})"
                return st
            down = sorted(d for d, up in st.dependencies.items() if not up)
            if down:
                st.detail = f"serving, degraded: {', '.join(down)} down"
        return st
