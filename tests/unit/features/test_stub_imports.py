"""The generated stubs import under protobuf 6 (.venv) and 5.29 (.venv-flink)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ("import google.protobuf as p\n"
        "from mlmesh.events.v1 import user_event_pb2, document_pb2, feature_update_pb2, "
        "dead_letter_pb2\n"
        "from features.job import codec\n"
        "raw = feature_update_pb2.FeatureUpdate(user_id='u', values={'a': 1.0})"
        ".SerializeToString()\n"
        "assert feature_update_pb2.FeatureUpdate.FromString(raw).values['a'] == 1.0\n"
        "assert codec.dead_letter_bytes(original=raw, key=None, topic='t', partition=0, "
        "offset=0, error_class='x', reason='y')\n"
        "print(p.__version__)\n")


@pytest.mark.parametrize("venv,major", [(".venv", "6"), (".venv-flink", "5")])
def test_stubs_import(venv: str, major: str) -> None:
    python = ROOT / venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{venv} not built")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        str(ROOT / p) for p in ("lib", "gen/python", "services"))}
    res = subprocess.run([str(python), "-c", CODE], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().split(".")[0] == major
