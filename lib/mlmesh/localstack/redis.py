"""A real Redis server as a local process: Feast's scale-out online store.

``redis-server`` from the Debian package (``make setup`` installs it), bound to
127.0.0.1, no persistence (the online store holds each user's newest window;
the feature writer rebuilds it from ``feature_updates`` and the offline store
keeps history). The stack starts it when ``MLMESH_FEAST_ONLINE=redis``; every
service reaches it by ``MLMESH_REDIS_URL``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from mlmesh.localstack.base import (
    ComponentStatus,
    ProcessRecord,
    pid_alive,
    port_open,
    spawn,
    stop_recorded,
    terminate,
    wait_started,
)

SERVER = "redis-server"


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the Redis server at ``url`` answers PING (never raises)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout,
                                      socket_connect_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


class RedisComponent:
    def __init__(self, state_dir: Path | str, port: int = 6379, name: str = "redis",
                 server: str | None = None) -> None:
        self.name = name
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.server = server or shutil.which(SERVER) or f"/usr/bin/{SERVER}"
        self.data_dir = self.state_dir / "redis" / name
        self.run_dir = self.state_dir / "run"
        self.log_path = self.state_dir / "logs" / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        record = ProcessRecord.load(self.run_dir, self.name)
        if record and pid_alive(record.pid):
            if ping(self.url):
                return
            terminate(record.pid)
        if not Path(self.server).is_file():
            raise RuntimeError(f"{SERVER} not found: run `make setup` "
                               "(or apt-get install redis-server)")
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; cannot start {self.name}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [self.server, "--bind", "127.0.0.1", "--port", str(self.port),
               "--dir", str(self.data_dir), "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--protected-mode", "yes"]
        proc = self._proc = spawn(cmd, self.log_path, cwd=self.data_dir)
        ProcessRecord(self.name, proc.pid, {"url": self.url}, str(self.log_path),
                      time.time()).save(self.run_dir)
        wait_started(proc, lambda: ping(self.url), timeout, "redis", self.log_path, self.stop,
                     interval=0.1)

    def stop(self, timeout: float = 30.0) -> None:
        stop_recorded(self.run_dir, self.name, self._proc, timeout)
        self._proc = None

    def status(self) -> ComponentStatus:
        record = ProcessRecord.load(self.run_dir, self.name)
        running = bool(record and pid_alive(record.pid))
        healthy = running and ping(self.url)
        detail = "" if healthy else ("not running" if not running else "not answering")
        return ComponentStatus(self.name, healthy, running, {"url": self.url}, detail,
                               record.pid if record and running else None)
