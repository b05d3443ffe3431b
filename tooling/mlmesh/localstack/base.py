"""The contract every local component launcher implements.

A component is one real server process (Kafka, Triton, Milvus, the PyFlink job,
a service). `mlmesh up` starts components in dependency order, `mlmesh status`
asks each for its health, `mlmesh down` stops them in reverse order. Process ids
and addresses are kept in ``<state_dir>/run/<name>.json`` so that a later CLI
invocation (another process) can find and stop them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
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
    # name -> answering, for a service that reports its dependencies
    dependencies: dict[str, bool] = field(default_factory=dict)
    # each replica's own status (as dicts), for a component of several
    replicas: list[dict[str, object]] = field(default_factory=list)

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
    """The last ``lines`` lines of a log, Java stack frames left out (a JVM's
    start-up failure is mostly frames; its message and causes are the lines
    that say what went wrong)."""
    if not path.exists():
        return "(no log)"
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        text = fh.read().decode(errors="replace").splitlines()
    kept = [ln for ln in text if not _JAVA_FRAME.match(ln)]
    tail = kept[-lines:]
    left_out = len(text) - len(kept)
    return "\n".join(tail + ([f"({left_out} Java stack frame lines left out)"] if left_out else []))


_JAVA_FRAME = re.compile(r"^\s+(at \S+\(.*\)|\.\.\. \d+ (more|common frames omitted))\s*$")


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


def live_record(run_dir: Path, name: str) -> ProcessRecord | None:
    """The record of ``name`` while its process lives; a stale one is removed."""
    record = ProcessRecord.load(run_dir, name)
    if record is not None and not pid_alive(record.pid):
        record.remove(run_dir)
        return None
    return record


def wait_healthy(pid: int, healthy: Callable[[], bool], timeout: float, what: str, log: Path,
                 proc: subprocess.Popen[bytes] | None = None,
                 on_failure: Callable[[], None] | None = None, interval: float = 0.25) -> None:
    """Wait until ``healthy()`` holds for the running process ``pid`` (``proc``
    when this process spawned it: reaped as the wait goes, so a crashed child
    is not taken for a live zombie). Its exit ends the wait at once
    (RuntimeError), the deadline raises TimeoutError, both with the log tail
    and after ``on_failure()`` (stop the component). A probe that raises
    counts as not healthy yet: a server still starting refuses in many ways."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    try:
        while True:
            if proc is not None and proc.pid == pid and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode} during start-up:\n"
                                   f"{log_tail(log)}")
            if not pid_alive(pid):
                raise RuntimeError(f"{what} exited during start-up:\n{log_tail(log)}")
            try:
                if healthy():
                    return
            except Exception as exc:
                last_exc = exc
            if time.monotonic() >= deadline:
                cause = f" ({last_exc!r})" if last_exc is not None else ""
                raise TimeoutError(f"{what} not healthy after {timeout:.0f}s{cause}\n"
                                   f"{log_tail(log)}")
            time.sleep(interval)
    except BaseException:
        if on_failure is not None:
            on_failure()
        raise


def stop_recorded(run_dir: Path, name: str, proc: subprocess.Popen[bytes] | None,
                  timeout: float) -> None:
    """Stop the process recorded as ``name`` (SIGTERM, then SIGKILL), forget it,
    and reap it when it is this process's own child (no zombie left behind)."""
    record = ProcessRecord.load(run_dir, name)
    if record is None:
        if proc is not None:
            proc.poll()  # an exited child: reap it
        return
    terminate(record.pid, timeout)
    record.remove(run_dir)
    _reap(proc, record.pid, 5.0)


def kill_recorded(run_dir: Path, name: str, proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL the recorded process group (a crash: no clean shutdown, for
    crash tests), wait for it to go and forget it."""
    record = ProcessRecord.load(run_dir, name)
    if record is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, signal.SIGKILL)
    _reap(proc, record.pid, 15.0)
    deadline = time.monotonic() + 15
    while pid_alive(record.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    record.remove(run_dir)


def _reap(proc: subprocess.Popen[bytes] | None, pid: int, timeout: float) -> None:
    if proc is not None and proc.pid == pid:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)


def recorded_status(name: str, run_dir: Path, addresses: dict[str, str],
                    healthy: Callable[[], bool], unhealthy: str,
                    ok: str = "") -> ComponentStatus:
    """The status of the process recorded as ``name``: not running, running
    and ``healthy()`` (detail ``ok``), or running and not (``unhealthy``)."""
    record = live_record(run_dir, name)
    if record is None:
        return ComponentStatus(name, False, False, addresses, "stopped")
    up = healthy()
    return ComponentStatus(name, up, True, addresses, ok if up else unhealthy, record.pid)


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
        wait_healthy(proc.pid, self.healthy, timeout, self.what, self.log_path, proc=proc,
                     on_failure=self.stop, interval=self.poll_interval)

    def stop(self, timeout: float = 30.0) -> None:
        stop_recorded(self.run_dir, self.name, self._proc, timeout)
        self._proc = None

    def status(self) -> ComponentStatus:
        return recorded_status(self.name, self.run_dir, self.addresses(), self.healthy,
                               self.unhealthy)
