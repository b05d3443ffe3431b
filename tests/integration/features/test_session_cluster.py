"""The features job on a Flink standalone session cluster (the cluster
profile): a JobManager and two TaskManagers as separate processes, the job
submitted with ``flink run`` at parallelism 2. The TaskManager running the
most subtasks is SIGKILLed mid-stream: the job restarts from its latest
checkpoint on the slots left, and the final features equal the reference with
no window result committed twice (read_committed): nothing lost, nothing
double counted."""

from __future__ import annotations

import uuid
from pathlib import Path

from features_reference import all_features
from features_scenario import (
    SESSION_GAP_S,
    Topics,
    all_results,
    assert_exact,
    build_stream,
    dead_letters,
    first_half_committed,
    job_args,
    producer,
    send,
    send_flush,
    wait_for,
)

from mlmesh.localstack.base import free_port
from mlmesh.localstack.flink_cluster import FlinkSessionComponent


def test_taskmanager_sigkill_restarts_the_job_exactly_once(kafka_bootstrap: str,
                                                           tmp_path: Path) -> None:
    topics = Topics(f"s{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    stream = build_stream(seed=13)
    half = len(stream.payloads) // 2
    p = producer(kafka_bootstrap)
    comp = FlinkSessionComponent(tmp_path, kafka_bootstrap, rest_port=free_port(),
                                 rpc_port=free_port(), args=job_args(topics))
    comp.start(timeout=300)
    try:
        view = comp.cluster_view()
        parallelism = comp.job_parallelism()
        before = first_half_committed(p, kafka_bootstrap, topics, stream)
        victim = comp.busiest_taskmanagers()[0]
        comp.kill_taskmanager(int(victim.rsplit("-", 1)[1]))
        send(p, topics, stream.payloads[half:])  # while the job restarts
        # CI saw the job "running" for 0.3 s between two restarts, the first
        # deployed to the dead TaskManager: wait until the JobManager dropped it
        wait_for(lambda: comp.running_without(victim), 120,
                 "the job running again on the TaskManager left")
        after_kill = comp.cluster_view()
        comp.start(timeout=120)  # the supervisor's part: the dead TaskManager back
        send_flush(p, topics, stream)
        expected = all_features(stream.events, stream.docs, SESSION_GAP_S * 1000,
                                stream.final_watermark)
        observed = all_results(kafka_bootstrap, topics, expected, "all results after the kill")
        whole = comp.cluster_view()
        dead = dead_letters(kafka_bootstrap, topics.events + ".dlq")
    finally:
        comp.stop()
    assert view["taskmanagers"] == {"features-taskmanager-1": "1/2 slots used",
                                    "features-taskmanager-2": "1/2 slots used"}
    assert parallelism and set(parallelism.values()) == {2}, parallelism
    assert after_kill["job"] == "running" and after_kill["taskmanagers"][victim] == "down"
    assert whole["taskmanagers"][victim] == "0/2 slots used"
    assert not comp.status().running
    assert before > 0
    assert_exact(observed, expected, dead)
