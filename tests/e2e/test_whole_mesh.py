"""The whole local mesh, end to end: `mlmesh demo` starts every real component
(Kafka, Milvus, Triton, the PyFlink job, the feature writer, ingest, embedder,
inference, monitor), streams a workload through ingest, calls Predict and
Search, audits exactly-once (events acknowledged == events counted by the
features; documents == chunks in Milvus), probes event -> served through
Predict, and stops everything cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlmesh.common import ports
from mlmesh.localstack.base import port_open
from mlmesh.testing.demo_checks import check_demo_output, check_demo_result

DEFAULT_PORTS = ports.STACK


def test_demo_runs_the_mesh_and_the_audit_matches(tmp_path: Path) -> None:
    busy = [p for p in DEFAULT_PORTS if port_open(p)]
    if busy:
        pytest.skip(f"the local stack's default ports {busy} are in use (a running mlmesh up)")
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, "-m", "mlmesh.cli.main", "demo", "--seconds", "20", "--rate", "400",
         "--users", "60", "--out", str(out)],
        capture_output=True, text=True, timeout=1500)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert out.exists(), tail
    result = json.loads(out.read_text())
    assert not result["error"], result["error"] + _service_errors(result["state_dir"])
    check_demo_result(result, tail)
    check_demo_output(proc.stdout + proc.stderr)
    assert proc.returncode == 0, tail
    assert "clean: no process or port left" in proc.stdout, tail
    assert not [p for p in DEFAULT_PORTS if port_open(p)]


def _service_errors(state_dir: str, per_log: int = 8) -> str:
    """The last ERROR lines of each component's log, for a failure message."""
    lines = []
    for log in sorted((Path(state_dir) / "logs").glob("*.log")):
        errors = [ln for ln in log.read_text(errors="replace").splitlines()
                  if "ERROR" in ln or "Traceback" in ln]
        lines += [f"{log.name}: {ln[:400]}" for ln in errors[-per_log:]]
    return "\n" + "\n".join(lines)
