"""pytest plugin: a real Milvus server (milvus-lite 2.4 in server mode) on a free
port; ``milvus_uri`` (session scope) is its ``http://127.0.0.1:PORT``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
