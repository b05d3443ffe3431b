"""The features job on a Flink standalone session cluster: the cluster's
configuration, its ``FLINK_LIB_DIR``, the ``flink run`` that submits the job,
and what the JobManager's REST API says about it.

Shared by the containers of compose's ``cluster`` profile
(:mod:`features.job.cluster`) and the local launcher of ``mlmesh up --profile
cluster`` (``mlmesh.localstack.flink_cluster``): both start the Flink
distribution the PyFlink wheel ships (``pyflink/bin``), so the two run the
same configuration.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.job.checkpoints import latest_checkpoint

JOB_NAME = "mlmesh-features"
LIVE_STATES = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING")


def flink_home(python: str | None = None) -> Path:
    """The Flink distribution inside the PyFlink wheel: of ``python``'s venv,
    or of this interpreter (found without importing pyflink)."""
    if python is not None:
        venv = Path(python).parent.parent
        found = sorted(venv.glob("lib/python3*/site-packages/pyflink/bin/jobmanager.sh"))
        if not found:
            raise RuntimeError(f"no pyflink/bin/jobmanager.sh under {venv}: run `make setup`")
        return found[0].parent.parent
    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyflink is not installed in this interpreter")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class Hosts:
    """Where each process binds and how the others reach it: all loopback for
    local processes; container names and 0.0.0.0 in compose."""

    jobmanager: str = "127.0.0.1"
    taskmanager: str = "127.0.0.1"
    bind: str = "127.0.0.1"


def cluster_config(rest_port: int, rpc_port: int, slots: int, parallelism: int,
                   python: str, tmp_dir: Path, hosts: Hosts = Hosts(),
                   taskmanager_rpc_port: int = 0) -> dict[str, str]:
    """The session cluster's own settings (the job brings its checkpointing,
    state backend and restart strategy)."""
    conf = {
        "jobmanager.rpc.address": hosts.jobmanager,
        "jobmanager.rpc.port": str(rpc_port),
        "jobmanager.bind-host": hosts.bind,
        "jobmanager.memory.process.size": "1024m",
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": hosts.bind,
        "taskmanager.host": hosts.taskmanager,
        "taskmanager.numberOfTaskSlots": str(slots),
        "taskmanager.memory.process.size": "1600m",
        # one subtask per TaskManager while both live; the spare slots take a
        # dead TaskManager's subtasks
        "taskmanager.load-balance.mode": "SLOTS",
        "rest.address": hosts.jobmanager,
        "rest.bind-address": hosts.bind,
        "rest.port": str(rest_port),
        "parallelism.default": str(parallelism),
        # a SIGKILLed TaskManager is declared lost after two missed heartbeat
        # RPCs (~4 s) instead of the default 50 s timeout
        "heartbeat.interval": "2000",
        "heartbeat.timeout": "10000",
        "heartbeat.rpc-failure-threshold": "2",
        "python.executable": python,
        "python.client.executable": python,
        "io.tmp.dirs": str(tmp_dir),
    }
    if taskmanager_rpc_port:
        conf["taskmanager.rpc.port"] = str(taskmanager_rpc_port)
    return conf


def write_conf_dir(home: Path, conf_dir: Path, conf: Mapping[str, str]) -> None:
    """``FLINK_CONF_DIR``: the wheel's log configs and a config.yaml of ours,
    with the JVM flags Flink needs on Java 17 (the wheel's env.java.opts.all)."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    for src in (home / "conf").iterdir():
        if src.name != "config.yaml":
            shutil.copy2(src, conf_dir / src.name)
    wheel = (home / "conf" / "config.yaml").read_text()
    opts = next((ln.split("all:", 1)[1].strip() for ln in wheel.splitlines()
                 if ln.strip().startswith("all:")), "")
    full = dict(conf)
    if opts:
        full["env.java.opts.all"] = opts
    (conf_dir / "config.yaml").write_text(
        "".join(f"{k}: {json.dumps(v)}\n" for k, v in full.items()))


def write_lib_dir(home: Path, lib_dir: Path) -> None:
    """``FLINK_LIB_DIR``: the wheel's lib/ plus opt/flink-python, which the
    JobManager needs to read a Python job's graph and the TaskManagers to run
    it (what the PyFlink images do by moving the jar into lib/)."""
    shutil.rmtree(lib_dir, ignore_errors=True)
    lib_dir.mkdir(parents=True)
    for jar in [*(home / "lib").glob("*.jar"), *(home / "opt").glob("flink-python*.jar")]:
        (lib_dir / jar.name).symlink_to(jar)


def job_file() -> Path:
    """The job's entry script (``flink run --python``), wherever the features
    package is (a checkout or an installed image)."""
    spec = importlib.util.find_spec("features")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the features package is not importable")
    return Path(next(iter(spec.submodule_search_locations))) / "job" / "features_job.py"


@dataclass(frozen=True)
class Submission:
    """One ``flink run --detached`` of the features job."""

    command: list[str]
    restored_from: Path | None


def submit_command(home: Path, python: str, *, bootstrap: str, checkpoint_dir: Path,
                   connector_jar: Path, functions_jar: Path, parallelism: int,
                   entry: Path | None = None, args: Sequence[str] = ()) -> Submission:
    """The job at ``parallelism``, from the newest completed checkpoint under
    ``checkpoint_dir`` when there is one."""
    for path in (connector_jar, functions_jar):
        if not path.exists():
            raise RuntimeError(f"{path} missing")
    cmd = [str(home / "bin" / "flink"), "run", "--detached", "-p", str(parallelism),
           "-pyexec", python, "-pyclientexec", python]
    restored = latest_checkpoint(checkpoint_dir)
    if restored is not None:
        cmd += ["--fromSavepoint", str(restored)]
    cmd += ["--python", str(entry or job_file()), "--bootstrap", bootstrap,
            "--checkpoint-dir", str(checkpoint_dir), "--connector-jar", str(connector_jar),
            "--functions-jar", str(functions_jar), "--parallelism", str(parallelism),
            "--rest-port", "0", *args]
    if restored is not None:
        cmd += ["--restore", str(restored)]
    return Submission(cmd, restored)


@dataclass
class ClusterOverview:
    taskmanagers: int
    slots_total: int
    slots_available: int
    jobs: list[dict[str, Any]]

    @property
    def job(self) -> dict[str, Any] | None:
        """The features job while it lives (not FAILED, CANCELED or FINISHED)."""
        return next((j for j in self.jobs
                     if j.get("name") == JOB_NAME and j.get("state") in LIVE_STATES), None)

    @property
    def running(self) -> bool:
        job = self.job
        tasks = (job or {}).get("tasks") or {}
        return (job is not None and job.get("state") == "RUNNING"
                and tasks.get("running") == tasks.get("total"))

    def describe(self) -> str:
        job = self.job
        state = "no job" if job is None else f"job {str(job.get('state')).lower()}"
        return (f"{state}, {self.taskmanagers} taskmanagers, "
                f"{self.slots_total - self.slots_available}/{self.slots_total} slots used")


def _get(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def overview(rest: str, timeout: float = 2.0) -> ClusterOverview:
    """The cluster's TaskManagers, slots and jobs (REST API at ``rest``)."""
    ov = _get(f"{rest}/overview", timeout)
    jobs = list(_get(f"{rest}/jobs/overview", timeout).get("jobs", []))
    return ClusterOverview(int(ov.get("taskmanagers", 0)), int(ov.get("slots-total", 0)),
                           int(ov.get("slots-available", 0)), jobs)


def taskmanager_slots(rest: str, timeout: float = 2.0) -> dict[str, tuple[int, int]]:
    """TaskManager resource id -> (slots, slots in use)."""
    tms = _get(f"{rest}/taskmanagers", timeout).get("taskmanagers", [])
    return {str(t["id"]): (int(t["slotsNumber"]), int(t["slotsNumber"]) - int(t["freeSlots"]))
            for t in tms}


def job_parallelism(rest: str, job: Mapping[str, Any], timeout: float = 2.0) -> dict[str, int]:
    """The job's vertices and their parallelism."""
    vertices = _get(f"{rest}/jobs/{job['jid']}", timeout).get("vertices", [])
    return {str(v["name"]): int(v["parallelism"]) for v in vertices}
