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
