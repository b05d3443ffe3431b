"""The compose mesh's cluster profile (deploy/compose/cluster.env, `make
compose-up PROFILE=cluster`): three KRaft brokers with every topic at
replication factor 3, the features job on a Flink session cluster (the
features-job container as JobManager, two TaskManager containers) at
parallelism 2, and second replicas of ingest, feature writer, embedder and
inference, all from the same images as the one-node mesh.

Then the demo workload through both ingest and both inference replicas while
a TaskManager container and the second ingest replica are SIGKILLed
(`docker kill`), and the exactly-once audit of `mlmesh demo --attach`.

Marked `containers` (about 5 minutes on 2 cores): `make test` runs it when
an engine answers, `make test-containers-cluster` on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.job.session import job_parallelism, overview, taskmanager_slots
from mlmesh.client_settings import ClientSettings
from mlmesh.common import ports
from mlmesh.localstack.kafka_cluster import cluster_state
from mlmesh.testing.compose import (
    compose_mesh,
    container_ids,
    inspect,
    profile_env,
    service_logs,
    skip_reason,
)
from mlmesh.testing.demo_checks import check_demo_result, check_fresh_again
from mlmesh.testing.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "mlmesh-citest-cluster"
REPLICATED = ("ingest", "feature-writer", "embedder", "inference", "monitor")
SERVICES = (*REPLICATED, *(f"{s}-2" for s in REPLICATED), "features-job",
            "features-taskmanager-1", "features-taskmanager-2")
BOOTSTRAP = f"localhost:{ports.KAFKA}"
REST = "http://127.0.0.1:8081"


@pytest.fixture(scope="module")
def mesh() -> Iterator[list[str]]:
    why = skip_reason()
    if why:
        pytest.skip(why)
    with compose_mesh(PROJECT, SERVICES, env=profile_env("cluster"), timeout=900) as cmd:
        yield cmd


def test_three_brokers_rf3_a_session_cluster_at_parallelism_2_and_two_replicas(
        mesh: list[str]) -> None:
    state = cluster_state(BOOTSTRAP, timeout=10)
    assert sorted(state.brokers) == [1, 2, 3]
    mesh_topics = [p for p in state.partitions if p.topic in ("user_events", "documents",
                                                               "feature_updates")]
    assert mesh_topics and all(len(p.replicas) == 3 for p in state.partitions), state.to_dict()
    assert not state.under_replicated and not state.offline, state.to_dict()

    # healthy = the job RUNNING; its tasks may still be deploying
    wait_for(lambda: overview(REST).running, 60, "every task of the job running")
    ov = overview(REST)
    assert ov.taskmanagers == 2, ov.describe()
    assert ov.job is not None and max(job_parallelism(REST, ov.job).values()) == 2
    # one subtask on each TaskManager, a spare slot on each
    assert taskmanager_slots(REST) == {"features-taskmanager-1": (2, 1),
                                       "features-taskmanager-2": (2, 1)}

    ids = container_ids(mesh, SERVICES)
    assert len(ids) == len(SERVICES)
    for info in inspect(ids):
        assert info["State"]["Health"]["Status"] == "healthy", info["Name"]  # type: ignore[index]


def kill_and_restart(mesh: list[str], services: tuple[str, ...], after_s: float,
                     down_s: float, done: list[str]) -> None:
    """SIGKILL the containers of ``services`` ``after_s`` into the run, start
    them again ``down_s`` later (what an orchestrator does)."""
    time.sleep(after_s)
    ids = container_ids(mesh, services)
    subprocess.run(["docker", "kill", *ids], capture_output=True, check=True)
    done.append(f"killed {services} at {after_s:.0f} s")
    time.sleep(down_s)
    subprocess.run(["docker", "start", *ids], capture_output=True, check=True)
    done.append(f"started again {down_s:.0f} s later")


def test_the_demo_through_both_replicas_with_a_taskmanager_and_a_replica_killed(
        mesh: list[str], tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    env = {"MLMESH_CLIENT_INGEST_GRPC": f"127.0.0.1:{ports.INGEST_GRPC},127.0.0.1:18151",
           "MLMESH_CLIENT_INFERENCE_GRPC": f"127.0.0.1:{ports.INFERENCE_GRPC},127.0.0.1:18152"}
    events: list[str] = []
    faults = threading.Thread(target=kill_and_restart, daemon=True, args=(
        mesh, ("features-taskmanager-1", "ingest-2"), 25.0, 15.0, events))
    faults.start()
    proc = subprocess.run(
        [sys.executable, "-m", "mlmesh.cli.main", "demo", "--attach", "--seconds", "40",
         "--rate", "300", "--users", "60", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1500, env={**os.environ, **env})
    faults.join(timeout=60)
    tail = (proc.stdout + proc.stderr)[-4000:] + f"\nfaults: {events}"
    assert len(events) == 2, tail
    assert out.exists(), tail + service_logs(mesh, SERVICES)
    result = json.loads(out.read_text())
    assert not result["error"], result["error"] + service_logs(mesh, SERVICES)
    # a probe sent while the TaskManager is down waits for the restart from the
    # checkpoint and the catch-up: its figure is printed, not checked, and
    # freshness must come back once the cluster has (below)
    check_demo_result(result, tail + service_logs(mesh, SERVICES), min_events=9000,
                      fresh_during_faults=True)
    sys.stderr.write(f"freshness under the faults: {result['figures']['event_to_served']}\n")
    assert proc.returncode == 0, tail
    # the cluster has its spare capacity back, the job runs at parallelism 2,
    # and an event is served fresh again through both replicas
    wait_for(lambda: (lambda ov: ov.running and ov.taskmanagers == 2)(overview(REST)), 120,
             "the job running on two TaskManagers again")
    fresh = check_fresh_again(ClientSettings(ingest_grpc=env["MLMESH_CLIENT_INGEST_GRPC"],
                                             inference_grpc=env["MLMESH_CLIENT_INFERENCE_GRPC"]))
    sys.stderr.write(f"freshness after the faults: {fresh}\n")
