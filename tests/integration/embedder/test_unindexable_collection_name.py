"""A collection name milvus-lite 2.4 cannot index (mlmesh.common.milvus_lite):
the real server fails ``create_index`` for it every time; the store says why,
drops the empty collection it just made, and ``python -m embedder`` exits with
status 2 and that reason instead of retrying forever."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from pymilvus import DataType, MilvusClient

from embedder.store import ChunkStore, CollectionNameError, StoreConfig
from mlmesh.common.milvus_lite import index_unsafe

UNSAFE = "idx_93389c79"  # failed in a CI run; its collection id ends in 0x27


def test_the_store_names_the_cause_and_leaves_no_collection(milvus_uri: str) -> None:
    assert index_unsafe(UNSAFE)
    store = ChunkStore(StoreConfig(uri=milvus_uri, collection=UNSAFE, dim=4))
    try:
        with pytest.raises(CollectionNameError, match="cannot hold an index on milvus-lite"):
            store.ensure()
        assert not store.client.has_collection(UNSAFE)
        with pytest.raises(CollectionNameError):  # the same answer on a second try
            store.ensure()
    finally:
        store.close()


def test_the_server_really_fails_that_name(milvus_uri: str) -> None:
    """The behaviour the check stands for, on the bare client: if a milvus-lite
    upgrade fixes it, this fails and the check can go."""
    client = MilvusClient(uri=milvus_uri, alias=f"unindexable-{uuid.uuid4().hex[:8]}")
    try:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="COSINE")
        with pytest.raises(Exception, match="internal error"):
            client.create_collection(UNSAFE, schema=schema, index_params=index)
    finally:
        client.drop_collection(UNSAFE)
        client.close()


def test_the_embedder_exits_with_the_reason(emb_env: Any) -> None:
    env = emb_env.env_vars(MLMESH_EMBEDDER_COLLECTION=UNSAFE)
    proc = subprocess.run([sys.executable, "-m", "embedder"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "cannot hold an index on milvus-lite" in out, out[-3000:]

