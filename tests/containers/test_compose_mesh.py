"""The whole mesh from its images (docker-compose.yml, the images `make images`
builds): brought up and gated on health, API keys on (a key made with `mlmesh
keys create` against the compose Kafka), the same demo workload, answers and
exactly-once audit as tests/e2e run against it (`mlmesh demo --attach`), then
`down -v` leaves no container, volume or network of the project behind.

Needs a Docker engine and the images (`make test-containers` builds them and
the model repository first). Marked `containers`: `make test` runs it when an
engine answers (CI starts one), `make test-containers` on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlmesh.common import ports
from mlmesh.testing.compose import compose_mesh, container_ids, inspect, service_logs, skip_reason
from mlmesh.testing.demo_checks import check_demo_result

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "mlmesh-citest"
SERVICES = ("ingest", "feature-writer", "embedder", "inference", "monitor", "features-job")


@pytest.fixture(scope="module")
def mesh() -> Iterator[list[str]]:
    why = skip_reason()
    if why:
        pytest.skip(why)
    with compose_mesh(PROJECT, SERVICES) as cmd:
        yield cmd


def test_compose_mesh_runs_the_demo_and_the_audit_matches(mesh: list[str],
                                                          tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, "-m", "mlmesh.cli.main", "demo", "--attach", "--seconds", "20",
         "--rate", "400", "--users", "60", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1500)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert out.exists(), tail + service_logs(mesh, SERVICES)
    result = json.loads(out.read_text())
    assert not result["error"], result["error"] + service_logs(mesh, SERVICES)
    check_demo_result(result, tail + service_logs(mesh, SERVICES))
    assert proc.returncode == 0, tail


def test_auth_is_on_a_call_without_a_key_is_refused(mesh: list[str]) -> None:
    import grpc

    from mlmesh.inference.v1 import inference_service_pb2 as pb
    from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc

    with grpc.insecure_channel(f"127.0.0.1:{ports.INFERENCE_GRPC}") as channel:
        stub = pb_grpc.InferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(pb.PredictRequest(user_id="u1"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        key = os.environ["MLMESH_CLIENT_API_KEY"]
        assert stub.Predict(pb.PredictRequest(user_id="u1"), timeout=10,
                            metadata=[("x-api-key", key)]).model_name


def test_every_service_container_is_healthy_and_not_root(mesh: list[str]) -> None:
    ids = container_ids(mesh, SERVICES)
    assert len(ids) == len(SERVICES)
    for info in inspect(ids):
        name = info["Name"]
        assert info["State"]["Health"]["Status"] == "healthy", name  # type: ignore[index]
        assert info["Config"]["User"] not in ("", "0", "root"), name  # type: ignore[index]
        assert info["RestartCount"] == 0, f"{name} restarted {info['RestartCount']} times"
