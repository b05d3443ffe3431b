"""Bad records straight onto a topic (no ingest in front): the consuming
service dead-letters each undecodable one with its reason, keeps running and
keeps consuming (its group reaches the end: no poison-pill stall). Runs for the
cheap consumers this stack starts (the feature writer, when registered); the
chaos suite covers every topic with the whole mesh."""

from __future__ import annotations

import random

import pytest

from mlmesh.chaos import corpus
from mlmesh.chaos.drain import wait_drained
from mlmesh.chaos.fuzz import Outcomes, check_topic, produce_raw
from mlmesh.chaos.procs import ProcessControl
from mlmesh.chaos.stackenv import ChaosStack
from mlmesh.events.v1 import feature_update_pb2

CONSUMER = {"feature_updates": "feature-writer"}


def _undecodable(value: bytes) -> bool:
    try:
        feature_update_pb2.FeatureUpdate.FromString(value)
    except Exception:
        return True
    return False


@pytest.fixture(scope="module")
def writer(fuzz_stack: ChaosStack) -> str:
    if not fuzz_stack.has("feature-writer"):
        pytest.skip("feature-writer is not registered in stack.COMPONENTS: topic fuzz of "
                    "feature_updates skipped (tests/chaos covers topics with the full mesh)")
    return "feature-writer"


def random_records(n: int, seed: int = 8) -> list[tuple[str, bytes]]:
    """Random bytes and randomly damaged valid FeatureUpdates (seeded)."""
    rng = random.Random(seed)
    valid = corpus.feature_update_cases()[0][1]
    out = []
    for i in range(n):
        if i % 2:
            buf = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            out.append((f"mutated-{i}", bytes(buf[: rng.randint(1, len(buf))])))
        else:
            out.append((f"random-{i}", rng.randbytes(rng.randint(1, 300))))
    return out


def test_bad_feature_updates_dead_lettered_writer_keeps_going(fuzz_stack: ChaosStack,
                                                              writer: str) -> None:
    pc = ProcessControl(fuzz_stack.run_dir)
    pid = pc.pid(writer)
    cases = corpus.feature_update_cases() + random_records(120)
    where = produce_raw(fuzz_stack.bootstrap, "feature_updates", cases)
    assert len(where) == len(cases)
    drain = wait_drained(fuzz_stack.bootstrap, timeout=90, quiet_s=5,
                         expect_groups=[writer])
    assert drain["drained"], f"{writer} stalled on bad records: {drain}"
    by_name = dict(cases)
    must = {pos: n for pos, n in where.items() if _undecodable(by_name[n])}
    out = Outcomes()
    check_topic(fuzz_stack.bootstrap, "feature_updates", must, [writer], out)
    assert not out.defects, out.defects
    assert pc.pid(writer) == pid, f"{writer} crashed on bad records"
