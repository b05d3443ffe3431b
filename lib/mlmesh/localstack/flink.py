"""The PyFlink features job on PyFlink's local mini-cluster, as a component.

``python services/features/job/features_job.py`` runs in ``.venv-flink``; the
JVM (mini-cluster) is its child in the same process group. On start the
launcher looks for the newest completed checkpoint/savepoint under the
checkpoint dir and resumes from it (``--restore``), so a crash (SIGKILL) and
restart neither loses nor double-counts events. Healthy = the mini-cluster's
REST API lists the job RUNNING with every task running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlmesh.localstack.base import (
    ComponentStatus,
    ProcessRecord,
    log_tail,
    pid_alive,
    spawn,
    terminate,
)
from mlmesh.localstack.paths import jars_root, repo_root
from mlmesh.localstack.service import source_pythonpath

log = logging.getLogger(__name__)

JOB_FILE = Path("services/features/job/features_job.py")
CONNECTOR_JAR = "flink/flink-sql-connector-kafka-5.0.0-2.2.jar"
FUNCTIONS_JAR = "flink/mlmesh-features-functions.jar"


def latest_checkpoint(root: Path) -> Path | None:
    """Newest completed ``chk-N`` or savepoint (with ``_metadata``) under ``root``."""
    if not root.is_dir():
        return None
    found = [m.parent for pattern in ("*/chk-*/_metadata", "savepoints/savepoint-*/_metadata")
             for m in root.glob(pattern) if m.is_file() and m.stat().st_size > 0]
    if not found:
        return None
    return max(found, key=lambda p: ((p / "_metadata").stat().st_mtime, p.name))


class FlinkJobComponent:
    """One features job (Component protocol)."""

    def __init__(self, state_dir: Path, bootstrap: str, rest_port: int = 18081,
                 name: str = "features-job", python: str | None = None,
                 args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 checkpoint_dir: Path | None = None) -> None:
        self.name = name
        self.state_dir = Path(state_dir).resolve()
        self.bootstrap = bootstrap
        self.rest_port = rest_port
        self.python = python or str(repo_root() / ".venv-flink" / "bin" / "python")
        self.args = list(args)
        self.env = dict(env or {})
        self.checkpoint_dir = (Path(checkpoint_dir) if checkpoint_dir
                               else self.state_dir / "features" / "checkpoints").resolve()
        self.log_path = self.state_dir / "logs" / f"{name}.log"
        self.run_dir = self.state_dir / "run"
        self.restored_from: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def addresses(self) -> dict[str, str]:
        return {"rest": f"http://127.0.0.1:{self.rest_port}"}

    @property
    def pid(self) -> int | None:
        """The job process this object started (its JVM is a child of it)."""
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        jar, functions = jars_root() / CONNECTOR_JAR, jars_root() / FUNCTIONS_JAR
        for path in (jar, functions):
            if not path.exists():
                raise RuntimeError(f"{path} missing: run `make setup-flink`")
        cmd = [self.python, str(repo_root() / JOB_FILE), "--bootstrap", self.bootstrap,
               "--checkpoint-dir", str(self.checkpoint_dir), "--connector-jar", str(jar),
               "--functions-jar", str(functions),
               "--rest-port", str(self.rest_port), *self.args]
        self.restored_from = latest_checkpoint(self.checkpoint_dir)
        if self.restored_from is not None:
            cmd += ["--restore", str(self.restored_from)]
        return cmd

    def _record(self) -> ProcessRecord | None:
        rec = ProcessRecord.load(self.run_dir, self.name)
        if rec is not None and not pid_alive(rec.pid):
            rec.remove(self.run_dir)
            return None
        return rec

    def start(self, timeout: float = 180.0) -> None:
        rec = self._record()
        if rec is None:
            env = {**os.environ, **self.env,
                   "PYTHONPATH": source_pythonpath(os.environ.get("PYTHONPATH"))}
            cmd = self.command()
            log.info("starting features job",
                     extra={"restore": str(self.restored_from or ""), "rest": self.rest_port})
            self._proc = spawn(cmd, self.log_path, env=env, cwd=repo_root())
            rec = ProcessRecord(self.name, self._proc.pid, self.addresses, str(self.log_path),
                                time.time())
            rec.save(self.run_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                self._proc.poll()
            if not pid_alive(rec.pid):
                self.stop()
                raise RuntimeError(f"{self.name} exited during start-up:\n"
                                   f"{log_tail(self.log_path)}")
            if self.healthy():
                return
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{self.name} not running after {timeout:.0f}s\n"
                           f"{log_tail(self.log_path)}")

    def job_overview(self) -> list[dict[str, object]]:
        url = f"http://127.0.0.1:{self.rest_port}/jobs/overview"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return list(json.loads(resp.read()).get("jobs", []))

    def healthy(self) -> bool:
        try:
            jobs = self.job_overview()
        except (OSError, ValueError):
            return False
        for job in jobs:
            tasks = job.get("tasks") or {}
            if (job.get("state") == "RUNNING" and isinstance(tasks, dict)
                    and tasks.get("running") == tasks.get("total")):
                return True
        return False

    def stop(self, timeout: float = 30.0) -> None:
        rec = ProcessRecord.load(self.run_dir, self.name)
        if rec is not None:
            terminate(rec.pid, timeout)
            rec.remove(self.run_dir)
        self._reap()

    def kill(self) -> None:
        """SIGKILL the driver and its JVM (a crash, for exactly-once tests)."""
        rec = ProcessRecord.load(self.run_dir, self.name)
        if rec is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(rec.pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while pid_alive(rec.pid) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        rec.remove(self.run_dir)

    def _reap(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                return
            self._proc = None

    def status(self) -> ComponentStatus:
        rec = self._record()
        if rec is None:
            return ComponentStatus(self.name, healthy=False, running=False,
                                   addresses=self.addresses, detail="stopped")
        ok = self.healthy()
        return ComponentStatus(self.name, healthy=ok, running=True, addresses=rec.addresses,
                               pid=rec.pid, detail="job running" if ok else "starting")
