"""pytest plugin: a real Redis server (Feast's scale-out online store).

``redis_url`` (session): ``$MLMESH_TEST_REDIS_URL`` if set (a running server);
else a Redis container (``redis``, or ``mlmesh/redis`` from ``make images``)
when a Docker engine answers and the image is there; else a local
``redis-server`` process (:class:`~mlmesh.localstack.redis.RedisComponent`) on
a free port (:mod:`mlmesh.testing.containers` says how the path is chosen).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mlmesh.localstack.base import free_port
from mlmesh.localstack.redis import RedisComponent, ping
from mlmesh.testing.containers import ServerPath, choose, record

DOCKER_IMAGE = "redis:7.4.5"


def _docker_redis() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    port = free_port()
    container = (DockerContainer(choose("redis", DOCKER_IMAGE).image)
                 .with_command("redis-server --save '' --appendonly no")
                 .with_bind_ports(6379, port))
    container.waiting_for(LogMessageWaitStrategy("Ready to accept connections")
                          .with_startup_timeout(60))
    with container:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a running Redis server."""
    external = os.environ.get("MLMESH_TEST_REDIS_URL")
    if external:
        assert ping(external), f"MLMESH_TEST_REDIS_URL={external} does not answer"
        record(ServerPath("redis", "external", why="MLMESH_TEST_REDIS_URL"))
        yield external
        return
    if choose("redis", DOCKER_IMAGE).mode == "docker":
        yield from _docker_redis()
        return
    server = RedisComponent(tmp_path_factory.mktemp("redis-state"), port=free_port(),
                            name="redis-test")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
