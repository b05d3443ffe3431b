"""A real Kafka broker and a real ingest *process* (so a crash shows), on a
free block of ports, plus the cheapest topic consumer that is registered (the
feature writer) for the topic-level fuzz."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlmesh.chaos.fuzz import IngestDoor
from mlmesh.chaos.stackenv import ChaosStack, free_base


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    from mlmesh.localstack import stack as registry

    wanted = ["kafka", "ingest"]
    if any(e.name == "feature-writer" for e in registry.COMPONENTS):
        wanted.append("feature-writer")
    s = ChaosStack(tmp_path_factory.mktemp("fuzz-stack"), free_base(), only=wanted)
    try:
        s.up(timeout=180)
        yield s
    finally:
        leftovers = s.down()
        assert not leftovers, leftovers


@pytest.fixture(scope="module")
def ingest_door(fuzz_stack: ChaosStack) -> Iterator[IngestDoor]:
    door = IngestDoor(f"127.0.0.1:{fuzz_stack.ports.ingest_grpc}",
                      f"127.0.0.1:{fuzz_stack.ports.ingest_http}")
    yield door
    door.close()
