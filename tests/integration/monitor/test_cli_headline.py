"""``mlmesh alerts`` (via the monitor and via the topic) and
``monitoring_client.headline`` against a running monitor."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlmesh import monitoring_client
from mlmesh.testing.monitor import write_rules
from monitor import synthetic as sy


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlmesh.cli.main", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_alerts_and_headline(monitor_factory: Any, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "alerts.yaml", [
        {"name": "slow_inference", "metric": "latency_p95_ms", "threshold": 40, "window": 60,
         "severity": "critical"}])
    mon = monitor_factory(env={"MLMESH_MONITOR_ALERTS_FILE": str(rules)})
    down = monitoring_client.headline("http://127.0.0.1:9")
    assert down["ok"] is False and down["error"]

    sy.produce(sy.producer(mon.bootstrap), mon.prefix + "predictions",
               [sy.prediction(f"r{i}", f"u{i}", model_version="v7", latency_ms=50.0 + i % 10)
                for i in range(300)])
    mon.wait_for(lambda s: s["alerts"], 30, "alert firing")
    head = monitoring_client.headline(mon.url)
    assert head["ok"] is True
    assert 50 <= head["latency_p95_ms"] <= 60
    assert head["active_alerts"] == 1 and head["error_rate"] == 0.0

    res = _cli("alerts", "--json", "--url", mon.url)
    assert res.returncode == 0, res.stderr
    firing = json.loads(res.stdout)["firing"]
    assert [(a["rule"], a["labels"]["model_version"]) for a in firing] == [("slow_inference", "v7")]

    deadline = time.monotonic() + 20
    while True:
        res = _cli("alerts", "--json", "--from-topic", "--bootstrap", mon.bootstrap,
                   "--topic", mon.prefix + "alerts", "--timeout", "10")
        assert res.returncode == 0, res.stderr
        firing = json.loads(res.stdout)["firing"]
        if firing or time.monotonic() > deadline:
            break
    assert [(a["rule"], a["severity"]) for a in firing] == [("slow_inference", "critical")]

    text = _cli("alerts", "--url", mon.url)
    assert text.returncode == 0 and "slow_inference" in text.stdout
    assert _cli("alerts", "--url", "http://127.0.0.1:9").returncode == 2
