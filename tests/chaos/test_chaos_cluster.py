"""Chaos on the cluster profile (issue #29): the mesh on three Kafka brokers
(replication factor 3, min.insync.replicas=2), the features job on a Flink
session cluster (a JobManager, two TaskManagers, parallelism 2) and two
replicas of ingest, the feature writer, the embedder and inference, while the
broker leading the most partitions is SIGKILLed, then that broker and a
second one (writes stop until one returns), then a broker paused past the
ISR lag limit, the TaskManager running the most subtasks SIGKILLed, the
JobManager SIGKILLed (the job is submitted again from its newest
checkpoint), one replica of every replicated service and the monitor
SIGKILLed, Triton and Milvus paused; then the same independent audit as the
single-broker runs (every acknowledged event counted once in the features
and the offline store, every document searchable once, no duplicate
prediction event). ``make chaos-cluster``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmesh.chaos.results import failure_summary, publish
from mlmesh.chaos.run import RunConfig, chaos_run
from mlmesh.chaos.stackenv import free_base


@pytest.mark.slow  # out of `make chaos-smoke`: `make chaos-cluster` or `make chaos`
@pytest.mark.timeout(2400)
def test_chaos_cluster_broker_faults_lose_nothing(tmp_path: Path) -> None:
    # faults run one after another, each with its restart (a JobManager or a
    # double broker kill takes 50-60 s on 2 cores): 320 s of load keeps
    # the node faults inside the stream
    cfg = RunConfig(events=20_000, docs=1_000, users=300, stream_s=320.0,
                    kills_per_service=1, pauses_per_store=1, replays=2, cluster=True,
                    port_base=free_base(29600, 29700).base, state_dir=tmp_path / "state",
                    drain_timeout_s=600.0)
    report = chaos_run(cfg)
    publish(report, "chaos-cluster")
    summary = failure_summary(report)
    assert report.audit.mismatches == 0 and report.audit.ok, summary
    assert report.ok and not report.failed_components, summary
    assert all(f["ok"] for f in report.faults), summary
    late = [f for f in report.faults if ":" in str(f["target"]) or "manager" in str(f["target"])
            if float(str(f["started_s"])) >= cfg.stream_s]
    assert not late, f"node faults after the load ended: {late}"
    kinds = {(f["kind"], f["target"]) for f in report.faults}
    assert {("kill", "broker:leader"), ("kill2", "broker:leader"),
            ("pause", "broker:follower"), ("kill", "taskmanager:busiest"),
            ("kill", "features-jobmanager"), ("kill", "ingest")} <= kinds, kinds
    assert report.topology["ingest"] == "2/2 replicas serving", report.topology
    assert "2 taskmanagers" in report.topology["features-job"], report.topology
    assert bool(report.drain["drained"]), summary
    assert not report.leftovers, report.leftovers
