"""pytest plugin: a real ``tritonserver`` (``triton_server``, session scope) on
free ports, serving the committed model repository plus ``make models`` output:
the ``mlmesh/triton`` image (testcontainers) when a Docker engine answers and
the image is there, else the local launcher (:mod:`mlmesh.testing.containers`
says how the path is chosen).

Skips (with the reason) only when neither can run; a missing model build is
built on the spot (~10 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlmesh.localstack.base import free_port
from mlmesh.localstack.triton import REPO_ROOT, TritonComponent, models_root
from mlmesh.testing.containers import choose


@dataclass(frozen=True)
class TritonServer:
    component: TritonComponent
    grpc_url: str
    http_url: str
    metrics_url: str
    start_seconds: float
    container: bool = False  # served by the image, not a process of the launcher


def built_models_dir() -> Path:
    """``<state>/models`` holding minilm/model.onnx and model_int8.onnx, building
    them if needed."""
    out = models_root() / "minilm"
    if not (out / "manifest.json").exists() or not (out / "model_int8.onnx").exists():
        env = dict(os.environ, PYTHONPATH=f"{REPO_ROOT}:{REPO_ROOT / 'lib'}")
        subprocess.run([sys.executable, "-m", "models.minilm.build", "--out", str(out)],
                       check=True, cwd=REPO_ROOT, env=env, timeout=600)
    return out.parent


def stats_counted(client: Any, inferences: int, timeout_s: float = 15.0
                  ) -> list[dict[str, Any]]:
    """``client.statistics()["model_stats"]`` (one entry per loaded version) once
    their summed ``inference_count`` reaches ``inferences``, or the last read at
    the deadline: Triton counts a request when the backend releases it, a moment
    after the response went out."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats: list[dict[str, Any]] = client.statistics()["model_stats"]
        if sum(int(v.get("inference_count", 0)) for v in stats) >= inferences or \
                time.monotonic() >= deadline:
            return stats
        time.sleep(0.1)


DOCKER_IMAGE = "mlmesh/triton:dev"  # no official CPU image: `make images` builds it


def _docker_triton(comp: TritonComponent, image: str) -> Iterator[float]:
    """The image serves the launcher's model repository (a bind mount): the
    component publishes versions into it and loads them over HTTP as with a
    local server; its process-level status() says nothing about a container."""
    import time

    from testcontainers.core.container import DockerContainer

    from mlmesh.localstack.triton import assemble_repository

    assemble_repository(comp.model_repository, comp.models_dir)
    load = [f"--load-model={m}" for m in comp.models
            if any(v.name.isdigit() for v in (comp.model_repository / m).iterdir())]
    container = (DockerContainer(image)
                 .with_command(" ".join(["--model-repository=/models",
                                         "--model-control-mode=explicit", *load]))
                 .with_volume_mapping(str(comp.model_repository), "/models", "ro")
                 .with_bind_ports(8000, comp.http_port).with_bind_ports(8001, comp.grpc_port)
                 .with_bind_ports(8002, comp.metrics_port)
                 .with_kwargs(shm_size="512m"))
    t0 = time.monotonic()
    with container:
        while not comp.server_ready():
            if time.monotonic() - t0 > 180:
                raise TimeoutError(f"{image} not ready after 180 s:\n"
                                   f"{container.get_logs()[1].decode()[-2000:]}")
            time.sleep(0.5)
        yield time.monotonic() - t0


@pytest.fixture(scope="session")
def triton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    """``tritonserver`` with the embedding and scoring models: the mlmesh/triton
    image through testcontainers when a Docker engine answers and the image is
    there, else the launcher (``.venv-triton``)."""
    import time

    path = choose("triton", DOCKER_IMAGE)
    venv = Path(os.environ.get("MLMESH_TRITON_VENV", REPO_ROOT / ".venv-triton"))
    if path.mode == "local" and not (venv / "bin" / "python").exists():
        pytest.skip(f"{venv} not built (make setup)")
    state = tmp_path_factory.mktemp("triton-state")
    comp = TritonComponent(state, http_port=free_port(), grpc_port=free_port(),
                           metrics_port=free_port(), models=("minilm_embedding", "risk_scorer"),
                           venv=venv, name="triton-test", models_dir=built_models_dir())
    if path.mode == "docker":
        for started in _docker_triton(comp, path.image):
            yield TritonServer(comp, comp.grpc_url, comp.http_url,
                               f"http://127.0.0.1:{comp.metrics_port}/metrics", started,
                               container=True)
        return
    t0 = time.monotonic()
    comp.start(timeout=180)
    started = time.monotonic() - t0
    try:
        yield TritonServer(comp, comp.grpc_url, comp.http_url,
                           f"http://127.0.0.1:{comp.metrics_port}/metrics", started)
    finally:
        comp.stop()
