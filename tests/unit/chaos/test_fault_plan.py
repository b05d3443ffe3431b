"""The fault schedule is a pure function of its seed (replayable)."""

from __future__ import annotations

from mlmesh.chaos.faults import plan

NAMES = ["kafka", "milvus", "triton", "ingest", "features-job", "embedder"]


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    assert plan(7, NAMES, 300) == plan(7, NAMES, 300)
    assert plan(7, NAMES, 300) != plan(8, NAMES, 300)


def test_schedule_covers_every_present_component_and_nothing_else() -> None:
    faults = plan(1, NAMES, 300, kills_per_service=3, pauses_per_store=2, replays=2)
    kills = [f.target for f in faults if f.kind == "kill"]
    assert sorted(set(kills)) == ["embedder", "features-job", "ingest", "kafka"]
    assert kills.count("ingest") == 3 and kills.count("kafka") == 1
    assert sorted(f.target for f in faults if f.kind == "pause") == [
        "milvus", "milvus", "triton", "triton"]
    assert {f.target for f in faults if f.kind == "replay"} == {"user_events", "documents"}
    assert all(0 < f.at_s < 300 for f in faults)
    assert [f.at_s for f in faults] == sorted(f.at_s for f in faults)


def test_cluster_schedule_has_the_broker_faults_instead_of_a_broker_kill() -> None:
    faults = plan(3, NAMES, 300, kills_per_service=1, cluster=True)
    broker = [(f.kind, f.target) for f in faults if f.target.startswith("broker:")]
    assert sorted(broker) == [("kill", "broker:leader"), ("kill2", "broker:leader"),
                              ("pause", "broker:follower")]
    assert not any(f.target == "kafka" for f in faults)
    pause = next(f for f in faults if f.target == "broker:follower")
    assert pause.hold_s > 10  # past replica.lag.time.max.ms: the ISRs must shrink


class _Control:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def kill(self, name: str) -> int:
        self.calls.append(("kill", name))
        return 1

    def pause(self, name: str) -> int:
        self.calls.append(("pause", name))
        return 1

    def resume(self, name: str, missing_ok: bool = False) -> None:
        self.calls.append(("resume", name))


def test_runner_resolves_broker_targets_when_the_fault_runs() -> None:
    from typing import Any

    from mlmesh.chaos.faults import Fault, FaultRunner

    control = _Control()
    restarts: list[str] = []

    def restart(name: str) -> float:
        restarts.append(name)
        return 0.0

    faults = [Fault(0.0, "kill2", "broker:leader", 0.0),
              Fault(0.0, "pause", "broker:follower", 0.0)]
    order = {"broker:leader": ["kafka-2", "kafka-1", "kafka-3"],
             "broker:follower": ["kafka-3", "kafka-1", "kafka-2"]}
    runner = FaultRunner(faults, control, restart, lambda _t, _n: 0,  # type: ignore[arg-type]
                         brokers=lambda target: order[target])
    runner_any: Any = runner
    for f in faults:
        runner_any._one(f)
    assert control.calls == [("kill", "kafka-2"), ("kill", "kafka-1"),
                             ("pause", "kafka-3"), ("resume", "kafka-3")]
    assert restarts == ["kafka"]  # the cluster component relaunches its dead nodes
