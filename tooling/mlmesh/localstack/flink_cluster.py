"""A Flink standalone session cluster as local processes, running the features
job (the ``cluster`` profile of ``mlmesh up``).

Started with the Flink distribution the PyFlink wheel ships
(``pyflink/bin/jobmanager.sh`` / ``taskmanager.sh start-foreground``): a
JobManager and two TaskManagers, each its own JVM and process group
(``features-jobmanager``, ``features-taskmanager-<n>``), sharing one generated
``FLINK_CONF_DIR``. The job is submitted as users submit theirs,
``flink run -d -py features_job.py`` at parallelism 2; checkpoints go to one
directory every process sees (on a real cluster: S3 or a shared volume).

Failures:
- a TaskManager dies: its tasks fail, the JobManager restarts the job from the
  latest completed checkpoint on the slots left (each TaskManager has a spare
  slot, and the job's two subtasks are spread one per TaskManager); restarting
  the dead TaskManager (:meth:`start`, what a supervisor or Kubernetes does)
  gives the cluster its spare capacity back;
- the JobManager dies (no HA here): the job is gone with it; :meth:`start`
  brings the cluster up and submits the job again from the newest completed
  checkpoint, as the mini-cluster launcher does.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from features.job.session import (
    ClusterOverview,
    flink_home,
    job_parallelism,
    overview,
    submit_command,
    taskmanager_slots,
    write_conf_dir,
    write_lib_dir,
)
from features.job.session import cluster_config as session_config
from mlmesh.common import ports
from mlmesh.localstack.base import (
    ComponentStatus,
    ProcessRecord,
    kill_recorded,
    live_record,
    log_tail,
    spawn,
    stop_recorded,
    wait_healthy,
)
from mlmesh.localstack.flink import CONNECTOR_JAR, FUNCTIONS_JAR, JOB_FILE
from mlmesh.localstack.paths import jars_root, repo_root
from mlmesh.localstack.service import source_pythonpath

log = logging.getLogger(__name__)

__all__ = ["ClusterOverview", "FlinkSessionComponent", "flink_home"]


class FlinkSessionComponent:
    """JobManager + TaskManagers + the features job on them (Component protocol)."""

    def __init__(self, state_dir: Path, bootstrap: str, rest_port: int = ports.FLINK_REST,
                 rpc_port: int = ports.FLINK_RPC, taskmanagers: int = 2, slots: int = 2,
                 parallelism: int = 2, name: str = "features-job", python: str | None = None,
                 args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 checkpoint_dir: Path | None = None) -> None:
        self.name = name
        self.state_dir = Path(state_dir).resolve()
        self.bootstrap = bootstrap
        self.rest_port, self.rpc_port = rest_port, rpc_port
        self.taskmanagers, self.slots, self.parallelism = taskmanagers, slots, parallelism
        self.python = python or str(repo_root() / ".venv-flink" / "bin" / "python")
        self.args = list(args)
        self.env = dict(env or {})
        self.checkpoint_dir = (Path(checkpoint_dir) if checkpoint_dir
                               else self.state_dir / "features" / "checkpoints").resolve()
        self.conf_dir = self.state_dir / "features" / "flink-conf"
        self.lib_dir = self.state_dir / "features" / "flink-lib"
        self.tmp_root = self.state_dir / "features" / "tmp"
        self.logs = self.state_dir / "logs"
        self.run_dir = self.state_dir / "run"
        self.restored_from: Path | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def jobmanager(self) -> str:
        return f"{self.name.removesuffix('-job')}-jobmanager"

    def taskmanager(self, n: int) -> str:
        """The run record name of TaskManager ``n`` (1-based)."""
        return f"{self.name.removesuffix('-job')}-taskmanager-{n}"

    @property
    def process_names(self) -> list[str]:
        return [self.jobmanager, *(self.taskmanager(n + 1) for n in range(self.taskmanagers))]

    @property
    def addresses(self) -> dict[str, str]:
        return {"rest": f"http://127.0.0.1:{self.rest_port}",
                "rpc": f"127.0.0.1:{self.rpc_port}"}

    # -- configuration and processes -------------------------------------
    def write_conf(self) -> Path:
        """``FLINK_CONF_DIR`` and ``FLINK_LIB_DIR`` (features.job.session)."""
        home = flink_home(self.python)
        conf = session_config(self.rest_port, self.rpc_port, self.slots, self.parallelism,
                              self.python, self.tmp_root / "cluster")
        write_conf_dir(home, self.conf_dir, conf)
        (self.tmp_root / "cluster").mkdir(parents=True, exist_ok=True)
        write_lib_dir(home, self.lib_dir)
        return home

    def _process_env(self) -> dict[str, str]:
        """The JVMs' environment: the job's Python code (embedded in the
        TaskManagers, thread mode) imports the mesh's sources and this venv's
        packages through PYTHONPATH."""
        venv = Path(self.python).parent.parent
        site = [str(p) for p in sorted(venv.glob("lib/python3*/site-packages"))]
        return {**os.environ, **self.env, "FLINK_CONF_DIR": str(self.conf_dir),
                "FLINK_LIB_DIR": str(self.lib_dir),
                "FLINK_LOG_DIR": str(self.logs / "flink"),
                "PYTHONPATH": source_pythonpath(os.pathsep.join(site))}

    def _launch(self, record: str, script: str, *options: str) -> None:
        """Start one JVM (idempotent: a live one is left alone)."""
        if live_record(self.run_dir, record) is not None:
            return
        home = flink_home(self.python)
        (self.logs / "flink").mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{record}.log"
        proc = spawn(["bash", str(home / "bin" / script), "start-foreground", *options],
                     log_path, env=self._process_env(), cwd=repo_root())
        self._procs[record] = proc
        ProcessRecord(record, proc.pid, self.addresses, str(log_path), time.time()
                      ).save(self.run_dir)
        log.info("started %s", record, extra={"pid": proc.pid})

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def overview(self, timeout: float = 2.0) -> ClusterOverview:
        return overview(self.rest, timeout)

    def taskmanager_slots(self, timeout: float = 2.0) -> dict[str, tuple[int, int]]:
        """Run record name -> (slots, slots in use) of every registered TaskManager."""
        return taskmanager_slots(self.rest, timeout)

    def running_without(self, record: str) -> bool:
        """The job runs after TaskManager ``record`` was lost: the JobManager
        has dropped it (until then a restart can deploy to it and fail again,
        with the job RUNNING for a moment between) and every task runs."""
        return record not in self.taskmanager_slots() and self.healthy()

    def busiest_taskmanagers(self) -> list[str]:
        """Live TaskManagers' run records, the one running most subtasks first."""
        used = {k: v[1] for k, v in self.taskmanager_slots().items()}
        live = [r for r in self.process_names[1:] if live_record(self.run_dir, r) is not None]
        return sorted(live, key=lambda r: -used.get(r, -1))

    def job_parallelism(self, job: dict[str, Any] | None = None) -> dict[str, int]:
        """The features job's vertices and their parallelism (``job``: its
        entry of an overview already read)."""
        job = job or self.overview().job
        return {} if job is None else job_parallelism(self.rest, job)

    def _slots_ready(self) -> bool:
        ov = self.overview()
        return ov.taskmanagers >= self.taskmanagers and ov.slots_total >= self.parallelism

    def submit_command(self) -> list[str]:
        jar, functions = jars_root() / CONNECTOR_JAR, jars_root() / FUNCTIONS_JAR
        for path in (jar, functions):
            if not path.exists():
                raise RuntimeError(f"{path} missing: run `make setup-flink`")
        sub = submit_command(flink_home(self.python), self.python, bootstrap=self.bootstrap,
                             checkpoint_dir=self.checkpoint_dir, connector_jar=jar,
                             functions_jar=functions, parallelism=self.parallelism,
                             entry=repo_root() / JOB_FILE, args=self.args)
        self.restored_from = sub.restored_from
        return sub.command

    def submit(self, timeout: float = 180.0) -> None:
        """``flink run --detached``: returns once the JobManager accepted the job."""
        log_path = self.logs / f"{self.name}-submit.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.submit_command()
        log.info("submitting features job", extra={"restore": str(self.restored_from or ""),
                                                   "parallelism": self.parallelism})
        with open(log_path, "ab") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                  env=self._process_env(), cwd=repo_root(), check=False)
        if done.returncode != 0:
            raise RuntimeError(f"flink run exited with {done.returncode}:\n{log_tail(log_path)}")

    # -- Component protocol ---------------------------------------------
    def start(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        jm = self.start_cluster(timeout)
        if self.overview().job is None:
            self.submit(max(30.0, deadline - time.monotonic()))
        wait_healthy(jm.pid, self.healthy, max(1.0, deadline - time.monotonic()),
                     "features job", self.logs / f"{self.name}-submit.log",
                     on_failure=self.stop, interval=0.5)

    def start_cluster(self, timeout: float = 180.0) -> ProcessRecord:
        """The JobManager and the TaskManagers not running yet; returns once
        every TaskManager has registered its slots (the JobManager's record)."""
        fresh = all(live_record(self.run_dir, r) is None for r in self.process_names)
        if fresh:  # never under a live JVM's feet: its conf, jars and working dir
            shutil.rmtree(self.tmp_root / "cluster", ignore_errors=True)
            self.write_conf()
        self._launch(self.jobmanager, "jobmanager.sh")
        for n in range(self.taskmanagers):
            # the TaskManager's id in the REST API is its run record's name
            record = self.taskmanager(n + 1)
            self._launch(record, "taskmanager.sh", f"-Dtaskmanager.resource-id={record}")
        jm = live_record(self.run_dir, self.jobmanager)
        assert jm is not None
        wait_healthy(jm.pid, self._slots_ready, timeout, "flink session cluster",
                     Path(jm.log), proc=self._procs.get(jm.name), on_failure=self.stop,
                     interval=0.5)
        return jm

    def healthy(self) -> bool:
        try:
            return self.overview().running
        except (OSError, ValueError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """TaskManagers, then the JobManager (the job is suspended, its
        checkpoints kept: the next start resumes from the newest)."""
        for record in reversed(self.process_names):
            stop_recorded(self.run_dir, record, self._procs.pop(record, None), timeout)
        shutil.rmtree(self.tmp_root / "cluster", ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL every process of the cluster (a machine lost)."""
        for record in self.process_names:
            kill_recorded(self.run_dir, record, self._procs.pop(record, None))

    def kill_taskmanager(self, n: int) -> None:
        """SIGKILL TaskManager ``n`` (1-based) alone."""
        record = self.taskmanager(n)
        kill_recorded(self.run_dir, record, self._procs.pop(record, None))

    def cluster_view(self) -> dict[str, Any]:
        """What ``mlmesh status`` shows: the job, its parallelism, and every
        TaskManager with its slots (a dead one as ``down``)."""
        ov = self.overview()
        slots = self.taskmanager_slots()
        tms: dict[str, str] = {}
        for record in self.process_names[1:]:
            if live_record(self.run_dir, record) is None:
                tms[record] = "down"  # the JobManager may not have noticed yet
            elif record in slots:
                total, used = slots[record]
                tms[record] = f"{used}/{total} slots used"
            else:
                tms[record] = "registering"
        job = ov.job
        par = self.job_parallelism(job) if job is not None else {}
        return {"job": "none" if job is None else str(job.get("state")).lower(),
                "parallelism": max(par.values(), default=0), "taskmanagers": tms,
                "slots": f"{ov.slots_total - ov.slots_available}/{ov.slots_total} used"}

    def status(self) -> ComponentStatus:
        alive = {r: live_record(self.run_dir, r) for r in self.process_names}
        jm = alive[self.jobmanager]
        tms = sum(1 for r in self.process_names[1:] if alive[r] is not None)
        if jm is None:
            detail = "stopped" if not tms else f"jobmanager down, {tms} taskmanagers alive"
            return ComponentStatus(self.name, False, tms > 0, self.addresses, detail)
        try:
            ov = self.overview()
            healthy, detail = ov.running, ov.describe()
        except (OSError, ValueError) as exc:
            healthy, detail = False, f"jobmanager not answering ({exc.__class__.__name__})"
        return ComponentStatus(self.name, healthy, True, self.addresses, detail, jm.pid)
