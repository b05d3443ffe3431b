"""pytest plugin: a real ``tritonserver`` (``triton_server``, session scope) on
free ports, serving the committed model repository plus ``make models`` output.

Skips (with the reason) only when ``.venv-triton`` does not exist; a missing
model build is built on the spot (~10 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlmesh.localstack.base import free_port
from mlmesh.localstack.triton import REPO_ROOT, TritonComponent, models_root


@dataclass(frozen=True)
class TritonServer:
    component: TritonComponent
    grpc_url: str
    http_url: str
    metrics_url: str
    start_seconds: float


def built_models_dir() -> Path:
    """``<state>/models`` holding minilm/model.onnx, building it if needed."""
    out = models_root() / "minilm"
    if not (out / "manifest.json").exists():
        env = dict(os.environ, PYTHONPATH=f"{REPO_ROOT}:{REPO_ROOT / 'lib'}")
        subprocess.run([sys.executable, "-m", "models.minilm.build", "--out", str(out)],
                       check=True, cwd=REPO_ROOT, env=env, timeout=600)
    return out.parent


@pytest.fixture(scope="session")
def triton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    import time

    venv = Path(os.environ.get("MLMESH_TRITON_VENV", REPO_ROOT / ".venv-triton"))
    if not (venv / "bin" / "python").exists():
        pytest.skip(f"{venv} not built (make setup)")
    state = tmp_path_factory.mktemp("triton-state")
    comp = TritonComponent(state, http_port=free_port(), grpc_port=free_port(),
                           metrics_port=free_port(), models=("minilm_embedding", "risk_scorer"),
                           venv=venv, name="triton-test", models_dir=built_models_dir())
    t0 = time.monotonic()
    comp.start(timeout=180)
    started = time.monotonic() - t0
    try:
        yield TritonServer(comp, comp.grpc_url, comp.http_url,
                           f"http://127.0.0.1:{comp.metrics_port}/metrics", started)
    finally:
        comp.stop()
