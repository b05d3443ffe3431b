"""Process control of stack components, by their run records (``run/<name>.json``).

Every component is started in its own session, so its process id is also its
process-group id: ``kill`` (SIGKILL), ``pause``/``resume`` (SIGSTOP/SIGCONT)
act on the whole group (a Flink driver and its JVM, the milvus-lite wrapper and
its binary). Only processes recorded by *this* stack's state dir are touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from mlmesh.localstack.base import ProcessRecord, pid_alive


class NotRunning(RuntimeError):
    """The component has no live process to act on."""


@dataclass(frozen=True)
class ProcessControl:
    run_dir: Path

    def pid(self, name: str) -> int:
        rec = ProcessRecord.load(self.run_dir, name)
        if rec is None or not pid_alive(rec.pid):
            raise NotRunning(f"{name}: no live process recorded in {self.run_dir}")
        return rec.pid

    def alive(self, name: str) -> bool:
        try:
            self.pid(name)
        except NotRunning:
            return False
        return True

    def kill(self, name: str, timeout: float = 15.0) -> int:
        """SIGKILL the component's process group; wait until it is gone."""
        pid = self.pid(name)
        self.resume(name, missing_ok=True)  # a stopped group still dies, but be explicit
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not pid_alive(pid) and not _group_alive(pid):
                return pid
            time.sleep(0.05)
        raise TimeoutError(f"{name}: pid {pid} still alive {timeout:.0f}s after SIGKILL")

    def pause(self, name: str) -> int:
        pid = self.pid(name)
        os.killpg(pid, signal.SIGSTOP)
        return pid

    def resume(self, name: str, missing_ok: bool = False) -> None:
        try:
            pid = self.pid(name)
        except NotRunning:
            if missing_ok:
                return
            raise
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)

    def group_rss_bytes(self, name: str) -> int:
        """Resident memory of every process in the component's group."""
        pgid = self.pid(name)
        return sum(rss for pid, rss in _processes_rss() if _pgid(pid) == pgid)


def _reap(pid: int) -> None:
    """Collect an exited child of ours (a zombie otherwise keeps its pid)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def _group_alive(pgid: int) -> bool:
    return any(_pgid(pid) == pgid and pid_alive(pid) for pid, _ in _processes_rss())


def _processes_rss() -> list[tuple[int, int]]:
    page = os.sysconf("SC_PAGE_SIZE")
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "statm").read_text().split()
        except OSError:
            continue
        out.append((int(entry.name), int(fields[1]) * page))
    return out
