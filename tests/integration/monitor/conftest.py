"""Fixtures of the monitor's integration tests: a real broker (mlmesh.testing.kafka)
and the monitor as a real subprocess on its own prefixed copy of the mesh topics."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlmesh.testing.monitor import MonitorProcess, mesh_topics

MonitorFactory = Callable[..., MonitorProcess]


@pytest.fixture
def monitor_factory(kafka_bootstrap: str, tmp_path: Path) -> Iterator[MonitorFactory]:
    made: list[MonitorProcess] = []

    def make(env: dict[str, str] | None = None, start: bool = True) -> MonitorProcess:
        mon = MonitorProcess(kafka_bootstrap, tmp_path / "state", env=env)
        mesh_topics(kafka_bootstrap, mon.prefix)
        made.append(mon)
        if start:
            mon.start()
        return mon

    yield make
    for mon in made:
        mon.stop(signal.SIGTERM)
