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
              Fault(0.0, "pause", "broker:follower", 0.0),
              Fault(0.0, "kill", "taskmanager:busiest", 0.0),
              Fault(0.0, "kill", "features-jobmanager", 0.0)]
    order = {"broker:leader": ["kafka-2", "kafka-1", "kafka-3"],
             "broker:follower": ["kafka-3", "kafka-1", "kafka-2"],
             "taskmanager:busiest": ["features-taskmanager-2", "features-taskmanager-1"]}
    runner = FaultRunner(faults, control, restart, lambda _t, _n: 0,  # type: ignore[arg-type]
                         nodes=lambda target: order[target])
    runner_any: Any = runner
    for f in faults:
        runner_any._one(f)
    assert control.calls == [("kill", "kafka-2"), ("kill", "kafka-1"),
                             ("pause", "kafka-3"), ("resume", "kafka-3"),
                             ("kill", "features-taskmanager-2"), ("kill", "features-jobmanager")]
    # the cluster components relaunch their dead nodes
    assert restarts == ["kafka", "features-job", "features-job"]


def test_cluster_plan_kills_the_jobmanager_and_the_busiest_taskmanager() -> None:
    from mlmesh.chaos.faults import BUSIEST_TM, component_of, plan

    names = ["kafka", "ingest", "features-job", "feature-writer"]
    faults = plan(7, names, 100.0, kills_per_service=2, cluster=True)
    kills = [f.target for f in faults if f.kind == "kill"]
    assert kills.count("features-jobmanager") == 2 and "features-job" not in kills
    assert kills.count(BUSIEST_TM) == 1
    # one kill of each replica of a replicated service, restarted by its component
    assert {t for t in kills if t.startswith("ingest")} == {"ingest", "ingest-2"}
    assert {t for t in kills if t.startswith("feature-writer")} == {"feature-writer",
                                                                   "feature-writer-2"}
    assert component_of("ingest-2") == "ingest" and component_of("kafka-3") == "kafka"
    assert component_of("features-taskmanager-2") == "features-job"
    assert component_of("monitor") == "monitor"
    single = plan(7, names, 100.0, kills_per_service=2)
    assert BUSIEST_TM not in {f.target for f in single}
    assert [f.target for f in single if f.kind == "kill"].count("features-job") == 2
