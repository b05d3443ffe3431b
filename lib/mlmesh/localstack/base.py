"""The contract every local component launcher implements.

A component is one real server process (Kafka, Triton, Milvus, the PyFlink job,
a service). `mlmesh up` starts components in dependency order, `mlmesh status`
asks each for its health, `mlmesh down` stops them in reverse order. Process ids
and addresses are kept in ``<state_dir>/run/<name>.json`` so that a later CLI
invocation (another process) can find and stop them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class ComponentStatus:
    name: str
    healthy: bool
    running: bool
    addresses: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    pid: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Component(Protocol):
    """One local server the stack can start, probe and stop."""

    name: str

    def start(self, timeout: float = 120.0) -> None:
        """Start (idempotent: a running, healthy component is left alone) and
        block until healthy or raise ``TimeoutError`` with the log tail."""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait, then SIGKILL; idempotent."""

    def status(self) -> ComponentStatus: ...


@dataclass
class ProcessRecord:
    """What is persisted about a running process in ``run/<name>.json``."""

    name: str
    pid: int
    addresses: dict[str, str]
    log: str
    started_at: float

    @classmethod
    def load(cls, run_dir: Path, name: str) -> ProcessRecord | None:
        path = run_dir / f"{name}.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(**data)

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / f".{self.name}.json.tmp"
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(run_dir / f"{self.name}.json")

    def remove(self, run_dir: Path) -> None:
        (run_dir / f"{self.name}.json").unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a detached process (own session, so ``mlmesh down`` can kill its
    whole group) with stdout/stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    finally:
        log.close()


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the process group, wait up to ``timeout``, then SIGKILL it."""
    if not pid_alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while pid_alive(pid) and time.monotonic() < deadline + 10:
        time.sleep(0.1)


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 16384))
        return "\n".join(fh.read().decode(errors="replace").splitlines()[-lines:])


def wait_until(probe: object, timeout: float, what: str, log: Path | None = None,
               interval: float = 0.25) -> None:
    """Poll ``probe()`` until truthy; raise TimeoutError with the log tail."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if probe():  # type: ignore[operator]
                return
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    tail = log_tail(log) if log else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s ({last_exc!r})\n{tail}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_started(proc: subprocess.Popen[bytes], probe: object, timeout: float, what: str,
                 log: Path, on_failure: object, interval: float = 0.25) -> None:
    """Wait until ``probe()`` holds for a just-spawned ``proc``; an exit of the
    process ends the wait at once. On failure ``on_failure()`` runs (stop the
    component) and the error, with the log tail, is raised."""

    def ready() -> bool:
        return proc.poll() is not None or bool(probe())  # type: ignore[operator]

    try:
        wait_until(ready, timeout, what, log, interval=interval)
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail(log)}")
    except BaseException:
        on_failure()  # type: ignore[operator]
        raise


def stop_recorded(run_dir: Path, name: str, proc: subprocess.Popen[bytes] | None,
                  timeout: float) -> None:
    """Stop the process recorded as ``name`` (SIGTERM, then SIGKILL), forget it,
    and reap it when it is this process's own child (no zombie left behind)."""
    import contextlib

    record = ProcessRecord.load(run_dir, name)
    if record is None:
        return
    terminate(record.pid, timeout)
    record.remove(run_dir)
    if proc is not None and proc.pid == record.pid:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


class LocalServer:
    """One server process of this machine, recorded in ``run/<name>.json``:
    :meth:`start` leaves a running, healthy one alone, else spawns it and waits
    for :meth:`healthy`. Subclasses give :meth:`command`, :meth:`healthy` and
    :meth:`addresses` (and :meth:`prepare` for an environment or checks)."""

    what = "server"
    poll_interval = 0.25
    unhealthy = "not answering"  # status detail of a running, unhealthy server

    def __init__(self, state_dir: Path | str, name: str, port: int) -> None:
        self.name = name
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.run_dir = self.state_dir / "run"
        self.log_path = self.state_dir / "logs" / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def addresses(self) -> dict[str, str]:
        raise NotImplementedError

    def prepare(self) -> tuple[dict[str, str] | None, Path | None]:
        """Check and create what the process needs; its environment and cwd."""
        return None, None

    def ports(self) -> tuple[int, ...]:
        """Every port it listens on (each must be free before a start)."""
        return (self.port,)

    def start(self, timeout: float = 60.0) -> None:
        record = ProcessRecord.load(self.run_dir, self.name)
        if record and pid_alive(record.pid):
            if self.healthy():
                return
            terminate(record.pid)
        for port in self.ports():
            if port_open(port):
                raise RuntimeError(f"port {port} is already in use; cannot start {self.name}")
        env, cwd = self.prepare()
        proc = self._proc = spawn(self.command(), self.log_path, env=env, cwd=cwd)
        ProcessRecord(self.name, proc.pid, self.addresses(), str(self.log_path),
                      time.time()).save(self.run_dir)
        wait_started(proc, self.healthy, timeout, self.what, self.log_path, self.stop,
                     interval=self.poll_interval)

    def stop(self, timeout: float = 30.0) -> None:
        stop_recorded(self.run_dir, self.name, self._proc, timeout)
        self._proc = None

    def status(self) -> ComponentStatus:
        record = ProcessRecord.load(self.run_dir, self.name)
        running = bool(record and pid_alive(record.pid))
        healthy = running and self.healthy()
        detail = "" if healthy else ("not running" if not running else self.unhealthy)
        return ComponentStatus(self.name, healthy, running, self.addresses(), detail,
                               record.pid if record and running else None)
