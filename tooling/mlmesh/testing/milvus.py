"""pytest plugin: a real Milvus server; ``milvus_uri`` (session scope) is its
``http://127.0.0.1:PORT``. A Milvus container (``milvusdb/milvus`` standalone
with embedded etcd, or ``mlmesh/milvus`` from ``make images``: milvus-lite's
server) when a Docker engine answers and the image is there, else milvus-lite
2.4 in server mode as a local process on a free port
(:mod:`mlmesh.testing.containers` says how the path is chosen).
``collection_name(prefix)`` gives a fresh collection name milvus-lite can index."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from mlmesh.common.milvus_lite import index_unsafe
from mlmesh.localstack.base import free_port
from mlmesh.localstack.milvus import MilvusComponent
from mlmesh.testing.containers import choose

DOCKER_IMAGE = "milvusdb/milvus:v2.5.10"


def _docker_milvus(image: str) -> Iterator[str]:
    from pymilvus import MilvusClient
    from testcontainers.core.container import DockerContainer

    port = free_port()
    container = (DockerContainer(image).with_command("milvus run standalone")
                 .with_env("ETCD_USE_EMBED", "true").with_env("COMMON_STORAGETYPE", "local")
                 .with_env("ETCD_DATA_DIR", "/var/lib/milvus/etcd")
                 .with_bind_ports(19530, port))
    uri = f"http://127.0.0.1:{port}"
    with container:
        deadline = time.monotonic() + 180
        while True:  # ready = the API answers (the port opens before it does)
            try:
                MilvusClient(uri=uri, timeout=5).list_collections()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        yield uri


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = choose("milvus", DOCKER_IMAGE)
    if path.mode == "docker":
        yield from _docker_milvus(path.image)
        return
    comp = MilvusComponent(tmp_path_factory.mktemp("milvus-state"), port=free_port(),
                           name="milvus-test")
    comp.start(timeout=90)
    try:
        yield comp.uri
    finally:
        comp.stop()


def collection_name(prefix: str) -> str:
    """``prefix`` plus a random suffix, drawn again for the one name in ~256 that
    milvus-lite 2.4 cannot index (mlmesh.common.milvus_lite)."""
    while True:
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        if not index_unsafe(name):
            return name
