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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlmesh.common import ports
from mlmesh.localstack.base import port_open
from mlmesh.testing.containers import docker_available
from mlmesh.testing.demo_checks import check_demo_result

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "mlmesh-citest"
SERVICES = ("ingest", "feature-writer", "embedder", "inference", "monitor", "features-job")


def compose_cmd() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        base = ["docker", "compose"]
    else:
        base = ["docker-compose"]
    env_file = ROOT / ".mlmesh" / "images.env"
    return [*base, "-p", PROJECT, *(["--env-file", str(env_file)] if env_file.exists() else [])]


def project_leftovers() -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={PROJECT}"
    out = {}
    for kind, cmd in (("containers", ["docker", "ps", "-aq", "--filter", label]),
                      ("volumes", ["docker", "volume", "ls", "-q", "--filter", label]),
                      ("networks", ["docker", "network", "ls", "-q", "--filter", label])):
        out[kind] = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
    return out


def service_logs(cmd: list[str]) -> str:
    logs = subprocess.run([*cmd, "logs", "--no-color", "--tail", "15", *SERVICES],
                          cwd=ROOT, capture_output=True, text=True)
    return "\n" + (logs.stdout + logs.stderr)[-6000:]


@pytest.fixture(scope="module")
def compose_mesh() -> Iterator[list[str]]:
    if os.environ.get("MLMESH_TEST_CONTAINERS") == "0":
        pytest.skip("MLMESH_TEST_CONTAINERS=0")
    if not docker_available():
        pytest.skip("no Docker engine answers (CI starts one: tools/dockerd.sh)")
    busy = [p for p in ports.STACK if port_open(p)]
    if busy:
        pytest.skip(f"the mesh's host ports {busy} are in use (a running `mlmesh up`?)")
    if not (ROOT / ".mlmesh" / "compose" / "triton" / "cpu" / "risk_scorer").is_dir():
        pytest.fail("no model repository for compose: run `make compose-models`")
    cmd = compose_cmd()
    env = dict(os.environ, COMPOSE_PROJECT_NAME=PROJECT)
    up = subprocess.run([*cmd, "up", "-d", "--no-build"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=600)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        t0 = time.monotonic()
        wait = subprocess.run([sys.executable, str(ROOT / "tools" / "compose_wait.py"),
                               "--project", PROJECT, "--timeout", "600"],
                              cwd=ROOT, capture_output=True, text=True, timeout=700)
        assert wait.returncode == 0, wait.stdout + wait.stderr + service_logs(cmd)
        sys.stderr.write(f"compose mesh healthy in {time.monotonic() - t0:.0f} s\n{wait.stdout}")
        made = subprocess.run(
            [sys.executable, "-m", "mlmesh.cli.main", "keys", "create", "--tenant", "citest",
             "--users", "*", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120,
            env=dict(os.environ, MLMESH_KAFKA_BOOTSTRAP=f"localhost:{ports.KAFKA}"))
        assert made.returncode == 0, made.stdout + made.stderr
        os.environ["MLMESH_CLIENT_API_KEY"] = json.loads(made.stdout)["key"]
        yield cmd
    finally:
        os.environ.pop("MLMESH_CLIENT_API_KEY", None)
        down = subprocess.run([*cmd, "down", "-v", "--remove-orphans", "-t", "30"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr
    assert project_leftovers() == {"containers": [], "volumes": [], "networks": []}


def test_compose_mesh_runs_the_demo_and_the_audit_matches(compose_mesh: list[str],
                                                          tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, "-m", "mlmesh.cli.main", "demo", "--attach", "--seconds", "20",
         "--rate", "400", "--users", "60", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1500)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert out.exists(), tail + service_logs(compose_mesh)
    result = json.loads(out.read_text())
    assert not result["error"], result["error"] + service_logs(compose_mesh)
    check_demo_result(result, tail + service_logs(compose_mesh))
    assert proc.returncode == 0, tail


def test_auth_is_on_a_call_without_a_key_is_refused(compose_mesh: list[str]) -> None:
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


def test_every_service_container_is_healthy_and_not_root(compose_mesh: list[str]) -> None:
    ids = subprocess.run([*compose_mesh, "ps", "-q", *SERVICES], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    assert len(ids) == len(SERVICES)
    for info in json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True,
                                          text=True, check=True).stdout):
        name = info["Name"]
        assert info["State"]["Health"]["Status"] == "healthy", name
        assert info["Config"]["User"] not in ("", "0", "root"), name
        assert info["RestartCount"] == 0, f"{name} restarted {info['RestartCount']} times"
