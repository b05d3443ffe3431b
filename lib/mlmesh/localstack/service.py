"""A mesh service (``python -m <module>``) as a local stack component.

Register one per service in ``stack.COMPONENTS`` with a factory such as::

    def ingest_factory(ctx: StackContext) -> Component:
        return ServiceComponent(
            "ingest", "ingest", ctx.state_dir,
            env=ctx.service_env(MLMESH_INGEST_GRPC_PORT="50051"),
            health_probe=grpc_health_probe("127.0.0.1:50051"),
            addresses={"grpc": "127.0.0.1:50051"},
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
    log_tail,
    pid_alive,
    spawn,
    terminate,
)
from mlmesh.localstack.paths import repo_root

Probe = Callable[[], bool]


def grpc_health_probe(address: str, service: str = "", timeout: float = 2.0) -> Probe:
    """A probe answering True when ``grpc.health.v1.Health/Check`` says SERVING."""

    def probe() -> bool:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
            return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    return probe


def http_probe(url: str, timeout: float = 2.0) -> Probe:
    """A probe answering True on an HTTP 2xx from ``GET url``."""

    def probe() -> bool:
        import httpx

        return httpx.get(url, timeout=timeout).is_success

    return probe


def source_pythonpath(existing: str | None = None) -> str:
    """``lib:gen/python:services`` of this checkout, before ``existing``."""
    root = repo_root()
    parts = [str(root / "lib"), str(root / "gen" / "python"), str(root / "services")]
    if existing:
        parts.append(existing)
    return os.pathsep.join(parts)


class ServiceComponent:
    """``<python> -m <module> [args]`` with ``env``; healthy when ``health_probe`` is."""

    def __init__(self, name: str, module: str, state_dir: Path,
                 env: Mapping[str, str] | None = None, health_probe: Probe | None = None,
                 addresses: Mapping[str, str] | None = None, args: Sequence[str] = (),
                 python: str | None = None, cwd: Path | None = None,
                 settle_seconds: float = 1.0) -> None:
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

    def _record(self) -> ProcessRecord | None:
        rec = ProcessRecord.load(self.run_dir, self.name)
        if rec is not None and not pid_alive(rec.pid):
            rec.remove(self.run_dir)
            return None
        return rec

    def _healthy(self, started_at: float | None = None) -> bool:
        if self.health_probe is None:
            rec = self._record()
            since = started_at if started_at is not None else (rec.started_at if rec else 0.0)
            return time.time() - since >= self.settle_seconds
        try:
            return self.health_probe()
        except Exception:  # a server still starting refuses in many ways
            return False

    def start(self, timeout: float = 120.0) -> None:
        rec = self._record()
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                self._proc.poll()  # reap a child that died, so it is not a zombie
            if not pid_alive(pid):
                self.stop()
                raise RuntimeError(f"{self.name} exited during start-up:\n"
                                   f"{log_tail(self.log_path)}")
            if self._healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"{self.name} not healthy after {timeout:.0f}s\n"
                           f"{log_tail(self.log_path)}")

    def stop(self, timeout: float = 30.0) -> None:
        rec = ProcessRecord.load(self.run_dir, self.name)
        if rec is not None:
            terminate(rec.pid, timeout)
            rec.remove(self.run_dir)
        if self._proc is not None:
            self._proc.poll()
            self._proc = None

    def status(self) -> ComponentStatus:
        rec = self._record()
        if rec is None:
            return ComponentStatus(self.name, healthy=False, running=False,
                                   addresses=self.addresses, detail="stopped")
        healthy = self._healthy()
        return ComponentStatus(self.name, healthy=healthy, running=True,
                               addresses=rec.addresses, pid=rec.pid,
                               detail="serving" if healthy else "not serving")
