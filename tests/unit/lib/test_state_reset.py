"""`mlmesh reset` / `make clean`: every piece of runtime state goes together,
built artefacts stay; without --yes and without a terminal nothing goes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlmesh.localstack.state import KEPT, reset, runtime_state

RUNTIME = ("data/kafka/meta.properties", "kafka/cluster_id",
           "features/checkpoints/abc/chk-1/_metadata", "features/online.db",
           "features/offline/part-0.parquet", "milvus/milvus/milvus.db",
           "triton/model_repository/risk_scorer/2/model.onnx", "inference/routing.yaml",
           "monitor/mlmesh-monitor/tables.db", "logs/kafka.log", "run/kafka.json",
           "mlflow/mlflow.db", "mlflow/artifacts/1/abc/artifacts/model/model.onnx")
BUILT = ("jars/kafka/kafka-clients.jar", "models/minilm/model.onnx", "tools/buf",
         "compose/triton/cpu/risk_scorer/1/model.onnx", "images.env")


def make_state(root: Path) -> None:
    for rel in (*RUNTIME, *BUILT):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * 10)
    # a pid record (of a process long gone) as the launcher writes it
    (root / "run" / "kafka.json").write_text(json.dumps(
        {"name": "kafka", "pid": 2**22 + 7, "addresses": {}, "log": "", "started_at": 0.0}))


def test_reset_removes_runtime_state_together_and_keeps_artefacts(tmp_path: Path) -> None:
    make_state(tmp_path)
    tops = {rel.split("/")[0] for rel in RUNTIME}
    assert {p.name for p in runtime_state(tmp_path)} == tops
    dry = reset(tmp_path, dry_run=True)
    assert set(dry.removed) == tops and dry.bytes_removed > 10 * (len(RUNTIME) - 1)
    assert all((tmp_path / rel).exists() for rel in RUNTIME)
    done = reset(tmp_path)
    assert set(done.removed) == tops
    assert not any((tmp_path / top).exists() for top in tops)
    assert all((tmp_path / rel).exists() for rel in BUILT)
    assert {rel.split("/")[0] for rel in BUILT} <= set(KEPT)


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MLMESH_STATE_DIR=str(state))
    return subprocess.run([sys.executable, "-m", "mlmesh.cli.main", "reset", *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                          timeout=120)


def test_cli_asks_unless_yes(tmp_path: Path) -> None:
    make_state(tmp_path)
    refused = _cli(tmp_path)
    assert refused.returncode == 1 and "--yes" in refused.stdout
    assert (tmp_path / "features" / "online.db").exists()
    done = _cli(tmp_path, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "features").exists() and not (tmp_path / "data").exists()
    assert (tmp_path / "jars" / "kafka" / "kafka-clients.jar").exists()
