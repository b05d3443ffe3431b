"""The PyFlink features job on PyFlink's local mini-cluster, as a component.

``python services/features/job/features_job.py`` runs in ``.venv-flink``; the
JVM (mini-cluster) is its child in the same process group. On start the
launcher looks for the newest completed checkpoint/savepoint under the
checkpoint dir and resumes from it (``--restore``), so a crash (SIGKILL) and
restart neither loses nor double-counts events. Healthy = the mini-cluster's
REST API lists the job RUNNING with every task running.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from features.job.checkpoints import latest_checkpoint
from mlmesh.common import ports
from mlmesh.localstack.base import (
    ComponentStatus,
    ProcessRecord,
    kill_recorded,
    live_record,
    recorded_status,
    spawn,
    stop_recorded,
    wait_healthy,
)
from mlmesh.localstack.paths import jars_root, repo_root
from mlmesh.localstack.service import source_pythonpath

log = logging.getLogger(__name__)

JOB_FILE = Path("services/features/job/features_job.py")
CONNECTOR_JAR = "flink/flink-sql-connector-kafka-5.0.0-2.2.jar"
FUNCTIONS_JAR = "flink/mlmesh-features-functions.jar"


class FlinkJobComponent:
    """One features job (Component protocol)."""

    def __init__(self, state_dir: Path, bootstrap: str, rest_port: int = ports.FLINK_REST,
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
        # the mini-cluster's working dir (RocksDB's local files, spills): Flink
        # deletes it on a clean close only, so the component removes it around runs
        self.tmp_dir = self.state_dir / "features" / "tmp" / name
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
               "--rest-port", str(self.rest_port), "--tmp-dir", str(self.tmp_dir), *self.args]
        self.restored_from = latest_checkpoint(self.checkpoint_dir)
        if self.restored_from is not None:
            cmd += ["--restore", str(self.restored_from)]
        return cmd

    def start(self, timeout: float = 180.0) -> None:
        rec = live_record(self.run_dir, self.name)
        if rec is None:
            env = {**os.environ, **self.env,
                   "PYTHONPATH": source_pythonpath(os.environ.get("PYTHONPATH"))}
            cmd = self.command()
            shutil.rmtree(self.tmp_dir, ignore_errors=True)  # a killed run's leftovers
            log.info("starting features job",
                     extra={"restore": str(self.restored_from or ""), "rest": self.rest_port})
            self._proc = spawn(cmd, self.log_path, env=env, cwd=repo_root())
            rec = ProcessRecord(self.name, self._proc.pid, self.addresses, str(self.log_path),
                                time.time())
            rec.save(self.run_dir)
        wait_healthy(rec.pid, self.healthy, timeout, self.name, self.log_path, proc=self._proc,
                     on_failure=self.stop, interval=0.5)

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
        stop_recorded(self.run_dir, self.name, self._proc, timeout)
        self._proc = None
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the driver and its JVM (a crash, for exactly-once tests)."""
        kill_recorded(self.run_dir, self.name, self._proc)
        self._proc = None

    def status(self) -> ComponentStatus:
        return recorded_status(self.name, self.run_dir, self.addresses, self.healthy,
                               "starting", ok="job running")
