"""Two monitor replicas: one active, one standing by (monitor.lease). The
active one is SIGKILLed; the standby takes the lease once its session
expires, recovers the tables from their changelogs and goes on, every
prediction counted once across the hand-over."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from mlmesh import monitoring_client
from mlmesh.testing.monitor import MonitorProcess, mesh_topics, sample
from monitor import synthetic as sy


def _total(s: dict[str, Any]) -> float:
    got = sample(s, "predictions_rate_total", model_version="v1")
    return float(got["value"]) if got else 0.0


def test_the_standby_takes_over_when_the_active_replica_dies(kafka_bootstrap: str,
                                                             tmp_path: Path) -> None:
    prefix, app_id = f"t{uuid.uuid4().hex[:8]}.", f"monitor-{uuid.uuid4().hex[:8]}"
    mesh_topics(kafka_bootstrap, prefix)
    env = {"MLMESH_MONITOR_SESSION_TIMEOUT_S": "6", "MLMESH_MONITOR_SUMMARY_RANGE_S": "3600",
           "MLMESH_MONITOR_COMMIT_INTERVAL_S": "1"}
    first = MonitorProcess(kafka_bootstrap, tmp_path / "a", prefix=prefix, app_id=app_id, env=env)
    second = MonitorProcess(kafka_bootstrap, tmp_path / "b", prefix=prefix, app_id=app_id,
                            env=env)
    prod = sy.producer(kafka_bootstrap)
    now = int(time.time() * 1000)
    try:
        first.start()
        second.start(role="standby")
        with pytest.raises(HTTPError) as standby:  # a standby serves no dashboard
            urlopen(second.url + "/api/summary", timeout=5)
        assert standby.value.code == 503
        sy.produce(prod, prefix + "predictions",
                   [sy.prediction(f"a{i}", f"u{i % 30}", latency_ms=5.0, ts_ms=now)
                    for i in range(800)])
        first.wait_for(lambda s: _total(s) == 800, 60, "800 predictions on the active one")
        first.wait_changelogs_settled()
        assert second.role() == "standby"
        both = f"{second.url},{first.url}"  # a client given both finds the active one
        head = monitoring_client.headline(both)
        assert head["ok"] and head["url"] == first.url, head

        first.stop(signal.SIGKILL)
        t0 = time.monotonic()
        sy.produce(prod, prefix + "predictions",
                   [sy.prediction(f"b{i}", f"u{i % 30}", latency_ms=5.0, ts_ms=now)
                    for i in range(400)])
        second.wait_ready(90, "active")
        print(f"standby active {time.monotonic() - t0:.1f} s after the kill")  # noqa: T201
        s = second.wait_for(lambda s: _total(s) >= 1200, 90, "every prediction after the hand-over")
        time.sleep(1.5)
        s = second.summary()
        after = monitoring_client.headline(both)
        assert after["ok"] and after["url"] == second.url, after
    finally:
        for mon in (first, second):
            mon.stop(signal.SIGTERM)
    assert _total(s) == 1200, (s["processed"], s["replayed"], s["duplicates"])
