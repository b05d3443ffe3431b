"""`mlmesh up/status/down/topics` drive a real broker and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlmesh.cli.main import main
from mlmesh.kafka.topics import load_topics
from mlmesh.localstack.base import free_port, pid_alive, port_open


def test_up_status_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    monkeypatch.setenv("MLMESH_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MLMESH_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    monkeypatch.setenv("MLMESH_STACK_KAFKA_CONTROLLER_PORT", str(free_port()))
    try:
        assert main(["up", "--only", "kafka"]) == 0
        assert main(["topics", "create"]) == 0  # idempotent after `up` created them
        capsys.readouterr()
        assert main(["status", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
    finally:
        down_rc = main(["down"])
    assert status["kafka_bootstrap"] == f"127.0.0.1:{port}"
    (kafka,) = [c for c in status["components"] if c["name"] == "kafka"]
    assert kafka["healthy"] and kafka["addresses"]["bootstrap"] == f"127.0.0.1:{port}"
    topics = {t["name"]: t for t in status["topics"]}
    for spec in load_topics():
        assert topics[spec.name]["partitions"] == spec.partitions
        assert topics[spec.name]["end_offsets"] == [0] * spec.partitions
    assert down_rc == 0
    assert not pid_alive(kafka["pid"]) and not port_open(port)
    assert not (tmp_path / "run" / "kafka.json").exists()
    assert main(["status", "--no-topics"]) == 0  # all stopped is a valid state


def test_up_cluster_profile_status_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`mlmesh up --profile cluster`: three brokers, the declared topics at
    replication factor 3, the features job on a Flink session cluster (two
    TaskManagers, parallelism 2), the profile recorded; status shows both
    clusters, and `down` leaves no process behind."""
    from mlmesh.localstack.kafka_cluster import cluster_state

    brokers = [free_port() for _ in range(3)]
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in brokers)
    monkeypatch.setenv("MLMESH_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MLMESH_KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("MLMESH_STACK_KAFKA_CONTROLLER_PORTS",
                       ",".join(str(free_port()) for _ in range(3)))
    monkeypatch.setenv("MLMESH_STACK_PROFILE", "single")  # restored after; `up` overrides it
    monkeypatch.setenv("MLMESH_FEATURES_REST_PORT", str(free_port()))
    monkeypatch.setenv("MLMESH_FEATURES_RPC_PORT", str(free_port()))
    try:
        assert main(["up", "--profile", "cluster", "--only", "kafka,features-job",
                     "--timeout", "300"]) == 0
        assert main(["topics", "create"]) == 0
        capsys.readouterr()
        assert main(["status", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        state = cluster_state(bootstrap)
        flink_pids = [json.loads(r.read_text())["pid"]
                      for r in (tmp_path / "run").glob("features-*.json")]
    finally:
        down_rc = main(["down"])
    assert (tmp_path / "profile").read_text().strip() == "cluster"
    assert status["profile"] == "cluster" and status["kafka_bootstrap"] == bootstrap
    assert status["kafka_cluster"]["brokers"] == [1, 2, 3]
    assert status["kafka_cluster"]["under_replicated"] == []
    assert status["kafka_cluster"]["offline"] == []
    flink = status["flink_cluster"]
    assert flink["job"] == "running" and flink["parallelism"] == 2, flink
    assert flink["taskmanagers"] == {"features-taskmanager-1": "1/2 slots used",
                                     "features-taskmanager-2": "1/2 slots used"}, flink
    (job,) = [c for c in status["components"] if c["name"] == "features-job"]
    assert job["healthy"] and "2 taskmanagers" in job["detail"]
    assert len(flink_pids) == 3  # the JobManager and two TaskManagers
    assert not any(pid_alive(pid) for pid in flink_pids)
    declared = {s.name for s in load_topics()}
    ours = [p for p in state.partitions if p.topic in declared]
    assert {p.topic for p in ours} == declared
    assert all(len(p.replicas) == 3 and len(p.isr) == 3 for p in ours)
    assert down_rc == 0
    assert not any(port_open(p) for p in brokers)
