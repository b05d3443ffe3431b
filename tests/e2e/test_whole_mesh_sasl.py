"""The whole mesh over Kafka SASL_SSL (#28): the demo's workload, answers and
exactly-once audit with every service, the Flink job included, connected to
the broker through its SASL_SSL listener (SCRAM-SHA-512, the local CA) with the
typed MLMESH_KAFKA_* security variables (MLMESH_STACK_KAFKA_SASL=1); the
services' logs never show the password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlmesh.common import ports
from mlmesh.localstack.base import port_open
from mlmesh.testing.demo_checks import check_demo_result

DEFAULT_PORTS = (*ports.STACK, ports.KAFKA_SASL)


def test_the_demo_runs_over_sasl_ssl_and_the_audit_matches(tmp_path: Path) -> None:
    busy = [p for p in DEFAULT_PORTS if port_open(p)]
    if busy:
        pytest.skip(f"the local stack's default ports {busy} are in use (a running mlmesh up)")
    state = tmp_path / "state"
    out = tmp_path / "demo.json"
    env = {**os.environ, "MLMESH_STACK_KAFKA_SASL": "1", "MLMESH_STATE_DIR": str(state)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlmesh.cli.main", "demo", "--seconds", "20", "--rate", "400",
         "--users", "60", "--out", str(out)],
        capture_output=True, text=True, timeout=1500, env=env)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert out.exists(), tail
    result = json.loads(out.read_text())
    assert not result["error"], result["error"]
    check_demo_result(result, tail)
    assert proc.returncode == 0, tail
    run_state = Path(result["state_dir"])  # the demo's own, under MLMESH_STATE_DIR
    password = (run_state / "kafka-sasl" / "password").read_text().strip()
    logs = {p.name: p.read_text(errors="replace") for p in (run_state / "logs").glob("*.log")}
    # (every service's only Kafka address was the SASL_SSL listener:
    # tests/unit/lib/test_stack_kafka_sasl.py)
    assert {"ingest.log", "embedder.log", "inference.log", "monitor.log"} <= set(logs)
    assert not [name for name, text in logs.items() if password in text]
    assert password not in proc.stdout + proc.stderr
    assert not [p for p in DEFAULT_PORTS if port_open(p)]
