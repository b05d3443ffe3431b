"""pytest plugin: a real Milvus server (milvus-lite 2.4 in server mode) on a free
port; ``milvus_uri`` (session scope) is its ``http://127.0.0.1:PORT``.
``collection_name(prefix)`` gives a fresh collection name milvus-lite can index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mlmesh.common.milvus_lite import index_unsafe
from mlmesh.localstack.base import free_port
from mlmesh.localstack.milvus import MilvusComponent


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusComponent]:
    comp = MilvusComponent(tmp_path_factory.mktemp("milvus-state"), port=free_port(),
                           name="milvus-test")
    comp.start(timeout=90)
    try:
        yield comp
    finally:
        comp.stop()


@pytest.fixture(scope="session")
def milvus_uri(milvus_server: MilvusComponent) -> str:
    return milvus_server.uri


def collection_name(prefix: str) -> str:
    """``prefix`` plus a random suffix, drawn again for the one name in ~256 that
    milvus-lite 2.4 cannot index (mlmesh.common.milvus_lite)."""
    while True:
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        if not index_unsafe(name):
            return name
