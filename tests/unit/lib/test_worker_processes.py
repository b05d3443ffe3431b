"""mlmesh.common.workers: N worker processes, each told its index; SIGTERM to
the first is forwarded to the others, every one stops, and a child's failure
is the exit code. The probe's serve function lives in a module written to
tmp_path (spawned children import it by name, so it cannot be this file)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

PROBE = '''
import os, pathlib, signal, threading
from pydantic import BaseModel

class ProbeSettings(BaseModel):
    out: str
    fail_worker: int = -1

def serve(settings, worker):
    out = pathlib.Path(settings.out)
    if worker == settings.fail_worker:
        (out / f"{worker}.failed").write_text(str(os.getpid()))
        return 3
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    (out / f"{worker}.up").write_text(str(os.getpid()))
    stop.wait(120)
    (out / f"{worker}.down").write_text(str(os.getpid()))
    return 0
'''


@pytest.fixture
def probe(tmp_path: Path) -> Any:
    name = f"workers_probe_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(PROBE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield __import__(name)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def _run(module_name: str, path: str, settings_json: str, workers: int) -> None:
    sys.path.insert(0, path)
    module = __import__(module_name)
    from mlmesh.common.workers import serve_processes

    settings = module.ProbeSettings.model_validate_json(settings_json)
    raise SystemExit(serve_processes(settings, workers, module.serve, "probe"))


def _start(probe: Any, out: Path, workers: int, fail_worker: int = -1
           ) -> multiprocessing.process.BaseProcess:
    settings = probe.ProbeSettings(out=str(out), fail_worker=fail_worker)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_run, args=(probe.__name__, str(Path(probe.__file__).parent),
                                          settings.model_dump_json(), workers))
    proc.start()
    return proc


def _wait_for(paths: list[Path], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() for p in paths):
            return
        time.sleep(0.05)
    missing = [p.name for p in paths if not p.exists()]
    raise AssertionError(f"never written: {missing}")


def _exited(pid: int, timeout: float = 30) -> None:
    """Wait until ``pid`` has exited (gone, or a zombie its parent has not reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never exited")


def test_every_worker_runs_in_its_own_process_and_stops_on_sigterm(
        probe: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _start(probe, out, workers=3)
    try:
        _wait_for([out / f"{i}.up" for i in range(3)])
        pids = {int((out / f"{i}.up").read_text()) for i in range(3)}
        assert len(pids) == 3
        assert proc.pid in pids  # worker 0 is the process that was started
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGTERM)
        proc.join(60)
        assert proc.exitcode == 0
        assert all((out / f"{i}.down").exists() for i in range(3))
    finally:
        if proc.is_alive():
            proc.kill()


def test_a_failed_worker_is_the_exit_code(probe: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _start(probe, out, workers=2, fail_worker=1)
    try:
        _wait_for([out / "0.up", out / "1.failed"])
        _exited(int((out / "1.failed").read_text()))  # its own exit, before any SIGTERM
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGTERM)
        proc.join(60)
        assert proc.exitcode == 3
    finally:
        if proc.is_alive():
            proc.kill()


def test_zero_workers_is_refused(probe: Any, tmp_path: Path) -> None:
    from mlmesh.common.workers import serve_processes

    with pytest.raises(ValueError, match="workers must be >= 1"):
        serve_processes(probe.ProbeSettings(out=str(tmp_path)), 0, probe.serve, "probe")
