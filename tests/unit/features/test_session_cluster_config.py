"""features.job.session and features.job.cluster without a JVM: the session
cluster's configuration for local processes and for containers, the submit
command, and the client environment of the JobManager container."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.job.session import Hosts, cluster_config, submit_command

pytestmark = pytest.mark.unit


def test_local_processes_stay_on_loopback() -> None:
    conf = cluster_config(18081, 18083, 2, 2, "/venv/bin/python", Path("/tmp/x"))
    binds = {k: v for k, v in conf.items() if "bind" in k or k.endswith((".address", ".host"))}
    assert set(binds.values()) == {"127.0.0.1"}, binds
    assert conf["taskmanager.load-balance.mode"] == "SLOTS"
    assert "taskmanager.rpc.port" not in conf


def test_containers_bind_everywhere_and_advertise_their_names() -> None:
    conf = cluster_config(8081, 6123, 2, 2, "/opt/venv/bin/python", Path("/tmp/x"),
                          Hosts(jobmanager="features-job", taskmanager="features-taskmanager-1",
                                bind="0.0.0.0"), taskmanager_rpc_port=6122)
    assert conf["jobmanager.rpc.address"] == conf["rest.address"] == "features-job"
    assert conf["taskmanager.host"] == "features-taskmanager-1"
    assert conf["jobmanager.bind-host"] == conf["rest.bind-address"] == "0.0.0.0"
    assert conf["taskmanager.rpc.port"] == "6122"  # the TaskManagers' healthcheck port


def jars(tmp_path: Path) -> dict[str, Path]:
    out = {"connector_jar": tmp_path / "c.jar", "functions_jar": tmp_path / "f.jar"}
    for p in out.values():
        p.write_bytes(b"jar")
    return out


def test_submit_resumes_from_the_newest_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    fresh = submit_command(tmp_path, "/py", bootstrap="k:9092", checkpoint_dir=ckpt,
                           parallelism=2, entry=tmp_path / "job.py", **jars(tmp_path))
    assert fresh.restored_from is None and "--fromSavepoint" not in fresh.command
    assert fresh.command[fresh.command.index("-p") + 1] == "2"
    done = ckpt / "a1b2" / "chk-7"
    done.mkdir(parents=True)
    (done / "_metadata").write_bytes(b"m")
    resumed = submit_command(tmp_path, "/py", bootstrap="k:9092", checkpoint_dir=ckpt,
                             parallelism=2, entry=tmp_path / "job.py", **jars(tmp_path))
    assert resumed.restored_from == done
    cmd = resumed.command
    assert cmd[cmd.index("--fromSavepoint") + 1] == str(done)
    assert cmd[cmd.index("--restore") + 1] == str(done)


def test_submit_refuses_a_missing_jar(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="missing"):
        submit_command(tmp_path, "/py", bootstrap="k:9092", checkpoint_dir=tmp_path,
                       connector_jar=tmp_path / "nope.jar", functions_jar=tmp_path / "f.jar",
                       parallelism=2)


def test_the_jobs_client_is_not_a_cluster_role(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """The JobManager container submits with `flink run`, whose client runs the
    job's script with this environment: a role left in it would start a second
    JobManager instead of building the job."""
    from features.job import cluster
    from features.job.settings import JobSettings

    monkeypatch.setattr(cluster, "flink_home", lambda: tmp_path)  # no pyflink needed
    monkeypatch.setenv("MLMESH_FEATURES_CLUSTER_ROLE", "jobmanager")
    monkeypatch.setenv("MLMESH_FEATURES_TMP_DIR", str(tmp_path))
    role = cluster.Role(JobSettings())
    env = role.env()
    assert "MLMESH_FEATURES_CLUSTER_ROLE" not in env
    assert env["FLINK_CONF_DIR"] == str(tmp_path / "conf")
