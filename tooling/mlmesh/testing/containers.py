"""How the test fixtures run a server: a container (testcontainers) when a
Docker engine answers and the image is there, else the local launcher.

* ``MLMESH_TEST_<SERVER>=local|docker`` forces one path (``docker`` fails
  loudly when the image cannot be had, never falls back silently);
  ``MLMESH_TEST_CONTAINERS=0`` means local for every server not forced.
* The image is ``$MLMESH_TEST_<SERVER>_IMAGE``, else ``$MLMESH_<SERVER>_IMAGE``
  (the variable docker-compose.yml reads, which ``make images`` writes to
  .mlmesh/images.env), else the official image. Unforced, an image that is
  neither local nor pullable means the local launcher, with the reason.
* Each choice is recorded; ``pytest_terminal_summary`` prints which path ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# testcontainers' reaper (Ryuk) is an image of its own that a machine without
# registry access cannot pull; every fixture here stops its container itself.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


@dataclass(frozen=True)
class ServerPath:
    server: str
    mode: str  # "docker" | "local" | "external"
    image: str = ""
    why: str = ""


_CHOSEN: dict[str, ServerPath] = {}


def docker_available() -> bool:
    """True when a Docker engine answers within 2 s (never raises)."""
    try:
        import docker

        client: Any = docker.from_env(timeout=2)  # type: ignore[attr-defined]
        return bool(client.ping())
    except Exception:  # no engine, no socket, no package: all "no"
        return False


def image_available(image: str) -> bool:
    """The image is in the engine, or a pull of it succeeds."""
    try:
        import docker

        client: Any = docker.from_env(timeout=10)  # type: ignore[attr-defined]
        try:
            client.images.get(image)
            return True
        except Exception:
            client.images.pull(image)
            return True
    except Exception:
        return False


def image_for(server: str, official: str) -> str:
    key = server.upper()
    return (os.environ.get(f"MLMESH_TEST_{key}_IMAGE") or os.environ.get(f"MLMESH_{key}_IMAGE")
            or official)


def choose(server: str, official: str) -> ServerPath:
    """The path ``server``'s fixture takes (memoised per session)."""
    if server in _CHOSEN:
        return _CHOSEN[server]
    key = server.upper()
    forced = os.environ.get(f"MLMESH_TEST_{key}", "").strip().lower()
    image = image_for(server, official)
    if forced == "local":
        path = ServerPath(server, "local", why=f"MLMESH_TEST_{key}=local")
    elif not forced and os.environ.get("MLMESH_TEST_CONTAINERS") == "0":
        path = ServerPath(server, "local", why="MLMESH_TEST_CONTAINERS=0")
    elif forced == "docker":
        path = ServerPath(server, "docker", image, f"MLMESH_TEST_{key}=docker")
    elif not docker_available():
        path = ServerPath(server, "local", why="no Docker engine answers")
    elif not image_available(image):
        path = ServerPath(server, "local", why=f"{image} is neither local nor pullable "
                          "(`make images` builds mlmesh/* equivalents)")
    else:
        path = ServerPath(server, "docker", image, "a Docker engine answers")
    _CHOSEN[server] = path
    return path


def record(path: ServerPath) -> None:
    _CHOSEN[path.server] = path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _CHOSEN:
        return
    terminalreporter.section("test servers")
    for path in sorted(_CHOSEN.values(), key=lambda p: p.server):
        how = f"container {path.image}" if path.mode == "docker" else path.mode
        terminalreporter.write_line(f"{path.server:<8} {how} ({path.why})")
