"""The features job's containers on a Flink standalone session cluster
(compose's ``cluster`` profile; ``MLMESH_FEATURES_CLUSTER_ROLE``):

- ``jobmanager``: runs Flink's JobManager (``pyflink/bin/jobmanager.sh
  start-foreground``) and keeps the features job submitted to it: once the
  TaskManagers offer enough slots, and whenever no live job is there (a
  JobManager restarted by its engine has none, there is no HA), ``flink run
  --detached`` from the newest completed checkpoint on the shared volume (what
  the Flink Kubernetes Operator does for a FlinkDeployment). The container
  ends when the JobManager does; SIGTERM stops it (the job is suspended, its
  checkpoints kept).
- ``taskmanager``: ``taskmanager.sh start-foreground`` in place of this
  process, its resource id the container's host name.

Both write the same ``FLINK_CONF_DIR`` (:mod:`features.job.session`) under
the job's tmp dir.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from features.job.session import (
    Hosts,
    cluster_config,
    flink_home,
    overview,
    submit_command,
    write_conf_dir,
    write_lib_dir,
)
from features.job.settings import JobSettings

log = logging.getLogger("features.job.cluster")

CHECK_INTERVAL_S = 5.0
SUBMIT_TIMEOUT_S = 300.0
# consecutive failed submissions before the JobManager container gives up (its
# engine restarts it, and shows the restarts); waits double from the interval
SUBMIT_ATTEMPTS = 6


class Role:
    """One process of the session cluster, configured from :class:`JobSettings`."""

    def __init__(self, cfg: JobSettings) -> None:
        self.cfg = cfg
        self.home = flink_home()
        self.python = sys.executable
        root = Path(cfg.tmp_dir or "/tmp/mlmesh-features").resolve()
        self.conf_dir, self.lib_dir, self.tmp = root / "conf", root / "lib", root / "io"
        self.host = socket.gethostname()
        self.rest = f"http://127.0.0.1:{cfg.rest_port or 8081}"

    def configure(self) -> None:
        cfg = self.cfg
        hosts = Hosts(jobmanager=cfg.jobmanager_host, taskmanager=self.host, bind="0.0.0.0")
        conf = cluster_config(cfg.rest_port or 8081, cfg.jobmanager_rpc_port,
                              cfg.taskmanager_slots, cfg.parallelism, self.python, self.tmp,
                              hosts, taskmanager_rpc_port=cfg.taskmanager_rpc_port)
        write_conf_dir(self.home, self.conf_dir, conf)
        write_lib_dir(self.home, self.lib_dir)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The JVMs' and the client's environment: the embedded interpreter
        (thread mode) sees this venv's packages; the job's client is not a
        cluster role itself."""
        import site

        env = {k: v for k, v in os.environ.items() if k != "MLMESH_FEATURES_CLUSTER_ROLE"}
        paths = [*site.getsitepackages(), *env.get("PYTHONPATH", "").split(os.pathsep)]
        env.update(FLINK_CONF_DIR=str(self.conf_dir), FLINK_LIB_DIR=str(self.lib_dir),
                   PYTHONPATH=os.pathsep.join(dict.fromkeys(p for p in paths if p)))
        return env

    def taskmanager(self) -> int:
        self.configure()
        script = str(self.home / "bin" / "taskmanager.sh")
        log.info("taskmanager %s joins %s", self.host, self.cfg.jobmanager_host)
        os.execvpe("bash", ["bash", script, "start-foreground",
                            f"-Dtaskmanager.resource-id={self.host}"], self.env())

    def jobmanager(self) -> int:
        self.configure()
        stop = threading.Event()
        jm = subprocess.Popen(["bash", str(self.home / "bin" / "jobmanager.sh"),
                               "start-foreground"], env=self.env())

        def on_term(signum: int, _frame: FrameType | None) -> None:
            stop.set()
            jm.send_signal(signum)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        failures, wait = 0, CHECK_INTERVAL_S
        while not stop.wait(wait) and jm.poll() is None:
            ok = self.keep_submitted()
            failures = 0 if ok else failures + 1
            wait = CHECK_INTERVAL_S * 2 ** failures
            if failures >= SUBMIT_ATTEMPTS:
                log.error("the features job could not be submitted %d times in a row; "
                          "stopping the JobManager", failures)
                jm.terminate()
                jm.wait()
                return 1
        code = jm.wait()
        log.info("jobmanager exited", extra={"code": code})
        return 0 if stop.is_set() else (code or 1)

    def keep_submitted(self) -> bool:
        """Submit the job when the cluster has the slots and no live job;
        False when a submission failed."""
        try:
            ov = overview(self.rest)
        except (OSError, ValueError):
            return True  # the JobManager is still starting
        if ov.job is not None or ov.slots_total < self.cfg.parallelism:
            return True
        cfg = self.cfg
        sub = submit_command(self.home, self.python, bootstrap=cfg.kafka_bootstrap,
                             checkpoint_dir=Path(cfg.checkpoint_dir),
                             connector_jar=Path(cfg.connector_jar),
                             functions_jar=Path(cfg.functions_jar),
                             parallelism=cfg.parallelism,
                             args=["--tmp-dir", str(self.tmp / "client")])
        log.info("submitting the features job", extra={
            "restore": str(sub.restored_from or ""), "parallelism": cfg.parallelism})
        try:
            done = subprocess.run(sub.command, env=self.env(), timeout=SUBMIT_TIMEOUT_S,
                                  check=False)
        except subprocess.TimeoutExpired:
            log.error("flink run did not return in %.0f s; next check retries", SUBMIT_TIMEOUT_S)
            return False
        if done.returncode != 0:
            log.error("flink run exited %d; next check retries", done.returncode)
            return False
        return True


def main(cfg: JobSettings) -> int:
    role = Role(cfg)
    if cfg.cluster_role == "jobmanager":
        return role.jobmanager()
    if cfg.cluster_role == "taskmanager":
        return role.taskmanager()
    raise ValueError(f"MLMESH_FEATURES_CLUSTER_ROLE={cfg.cluster_role!r}: "
                     "jobmanager | taskmanager (empty: the mini-cluster)")
