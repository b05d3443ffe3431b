"""The compose mesh for tests/containers: brought up from the built images
under a project name of its own, gated on health (tools/compose_wait.py), an
API key minted against its Kafka, and on the way out ``down -v`` with nothing
of the project left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from mlmesh.common import ports
from mlmesh.localstack.base import port_open
from mlmesh.localstack.paths import repo_root


def compose_cmd(project: str) -> list[str]:
    """``docker compose`` (or docker-compose 1.x) for ``project``, with the
    images' env file when ``make images`` wrote one."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        base = ["docker", "compose"]
    else:
        base = ["docker-compose"]
    env_file = repo_root() / ".mlmesh" / "images.env"
    return [*base, "-p", project, *(["--env-file", str(env_file)] if env_file.exists() else [])]


def profile_env(profile: str) -> dict[str, str]:
    """The variables of ``deploy/compose/<profile>.env``."""
    out = {}
    for line in (repo_root() / "deploy" / "compose" / f"{profile}.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def project_leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    out = {}
    for kind, cmd in (("containers", ["docker", "ps", "-aq", "--filter", label]),
                      ("volumes", ["docker", "volume", "ls", "-q", "--filter", label]),
                      ("networks", ["docker", "network", "ls", "-q", "--filter", label])):
        out[kind] = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
    return out


def service_logs(cmd: Sequence[str], services: Sequence[str], tail: int = 15) -> str:
    logs = subprocess.run([*cmd, "logs", "--no-color", "--tail", str(tail), *services],
                          cwd=repo_root(), capture_output=True, text=True)
    return "\n" + (logs.stdout + logs.stderr)[-6000:]


def skip_reason() -> str | None:
    """Why the compose mesh cannot run here, or None."""
    from mlmesh.testing.containers import docker_available

    if os.environ.get("MLMESH_TEST_CONTAINERS") == "0":
        return "MLMESH_TEST_CONTAINERS=0"
    if not docker_available():
        return "no Docker engine answers (CI starts one: tools/dockerd.sh)"
    busy = [p for p in ports.STACK if port_open(p)]
    if busy:
        return f"the mesh's host ports {busy} are in use (a running `mlmesh up`?)"
    tag = os.environ.get("MLMESH_IMAGE_TAG", "dev")
    if subprocess.run(["docker", "image", "inspect", f"mlmesh/features-local:{tag}"],
                      capture_output=True).returncode != 0:
        return f"no image mlmesh/features-local:{tag}: run `make images`"
    return None


@contextmanager
def compose_mesh(project: str, services: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = 600) -> Iterator[list[str]]:
    """``up -d --no-build`` and the health gate; yields the compose command
    (``MLMESH_CLIENT_API_KEY`` set to a key for every user meanwhile)."""
    root = repo_root()
    if not (root / ".mlmesh" / "compose" / "triton" / "cpu" / "risk_scorer").is_dir():
        raise RuntimeError("no model repository for compose: run `make compose-models`")
    cmd = compose_cmd(project)
    run_env = {**os.environ, **(env or {}), "COMPOSE_PROJECT_NAME": project}
    up = subprocess.run([*cmd, "up", "-d", "--no-build"], cwd=root, env=run_env,
                        capture_output=True, text=True, timeout=timeout)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        t0 = time.monotonic()
        wait = subprocess.run([sys.executable, str(root / "tools" / "compose_wait.py"),
                               "--project", project, "--timeout", str(int(timeout))],
                              cwd=root, capture_output=True, text=True, timeout=timeout + 100)
        assert wait.returncode == 0, wait.stdout + wait.stderr + service_logs(cmd, services)
        sys.stderr.write(f"compose mesh healthy in {time.monotonic() - t0:.0f} s\n{wait.stdout}")
        made = subprocess.run(
            [sys.executable, "-m", "mlmesh.cli.main", "keys", "create", "--tenant", "citest",
             "--users", "*", "--json"], cwd=root, capture_output=True, text=True, timeout=120,
            env=dict(os.environ, MLMESH_KAFKA_BOOTSTRAP=f"localhost:{ports.KAFKA}"))
        assert made.returncode == 0, made.stdout + made.stderr
        os.environ["MLMESH_CLIENT_API_KEY"] = json.loads(made.stdout)["key"]
        yield cmd
    finally:
        os.environ.pop("MLMESH_CLIENT_API_KEY", None)
        down = subprocess.run([*cmd, "down", "-v", "--remove-orphans", "-t", "30"], cwd=root,
                              env=run_env, capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr
    assert project_leftovers(project) == {"containers": [], "volumes": [], "networks": []}


def container_ids(cmd: Sequence[str], services: Sequence[str]) -> list[str]:
    return subprocess.run([*cmd, "ps", "-q", *services], cwd=repo_root(), capture_output=True,
                          text=True, check=True).stdout.split()


def inspect(ids: Sequence[str]) -> list[dict[str, object]]:
    out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                         check=True).stdout
    return list(json.loads(out))
