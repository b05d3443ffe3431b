"""`make clean` as a user meets it (#32): the mesh up, a workload through it,
`mlmesh reset --yes`, the mesh up again on the same state dir, the same workload
again: the second audit counts only the second run's events (features read
from topics created after the reset), Milvus starts empty, and the features
job starts fresh instead of restoring offsets of topics that no longer exist."""

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

pytestmark = pytest.mark.slow


def _mlmesh(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    proc = subprocess.run([sys.executable, "-m", "mlmesh.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mlmesh {' '.join(args)}:\n{out[-4000:]}"
    return out


def _demo(env: dict[str, str], out: Path) -> dict[str, object]:
    _mlmesh(env, "demo", "--attach", "--seconds", "10", "--rate", "300", "--users", "40",
            "--out", str(out))
    result: dict[str, object] = json.loads(out.read_text())
    check_demo_result(result, json.dumps(result.get("figures", {}))[:3000], min_events=2500)
    return result


def test_reset_then_up_counts_only_what_came_after(tmp_path: Path) -> None:
    busy = [p for p in ports.STACK if port_open(p)]
    if busy:
        pytest.skip(f"the local stack's default ports {busy} are in use (a running mlmesh up)")
    state = tmp_path / "state"
    env = dict(os.environ, MLMESH_STATE_DIR=str(state))
    try:
        _mlmesh(env, "up")
        first = _demo(env, tmp_path / "first.json")
        assert list((state / "features" / "checkpoints").rglob("_metadata"))
        _mlmesh(env, "reset", "--yes")
        assert not (state / "features").exists() and not (state / "data").exists()
        assert not (state / "milvus").exists()
        _mlmesh(env, "up")
        from pymilvus import MilvusClient

        client = MilvusClient(uri=f"http://127.0.0.1:{ports.MILVUS}")
        assert all(client.get_collection_stats(c)["row_count"] == 0
                   for c in client.list_collections()), "chunks from before the reset"
        second = _demo(env, tmp_path / "second.json")
        job_log = (state / "logs" / "features-job.log").read_text()
        assert "fresh start" in job_log and "refusing" not in job_log
    finally:
        subprocess.run([sys.executable, "-m", "mlmesh.cli.main", "down"], env=env,
                       capture_output=True, timeout=300)
    a1, a2 = first["audit"], second["audit"]
    assert isinstance(a1, dict) and isinstance(a2, dict)
    # the same workload twice: equal counts, not the first added to the second
    assert a2["events_counted_by_features"] == a2["events_acknowledged"] \
        == a1["events_acknowledged"]
