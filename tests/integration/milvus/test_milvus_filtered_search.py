"""A real Milvus server: a search filtered by user_id returns only that user's
rows, and the nearest one is the right one."""

from __future__ import annotations

import numpy as np
from pymilvus import DataType, MilvusClient

DIM = 384


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _create(client: MilvusClient, name: str) -> None:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("user_id", DataType.VARCHAR, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection(name, schema=schema, index_params=index)


def test_filter_by_user_returns_only_that_users_rows(milvus_uri: str) -> None:
    client = MilvusClient(uri=milvus_uri)
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 300)
    users = [f"user-{i % 3}" for i in range(300)]
    try:
        _create(client, "docs_filter")
        client.insert("docs_filter", [{"id": i, "user_id": users[i], "vector": vectors[i].tolist()}
                                      for i in range(300)])
        client.flush("docs_filter")
        # The query is row 4's vector (user-1): unfiltered it wins; user-2 never sees it.
        query = vectors[4].tolist()
        hits1 = client.search("docs_filter", [query], limit=10, filter='user_id == "user-1"',
                              output_fields=["user_id"])[0]
        hits2 = client.search("docs_filter", [query], limit=10, filter='user_id == "user-2"',
                              output_fields=["user_id"])[0]
    finally:
        client.drop_collection("docs_filter")
        client.close()
    assert len(hits1) == len(hits2) == 10
    assert {h["entity"]["user_id"] for h in hits1} == {"user-1"}
    assert {h["entity"]["user_id"] for h in hits2} == {"user-2"}
    assert hits1[0]["id"] == 4 and hits1[0]["distance"] > 0.999
    assert 4 not in {h["id"] for h in hits2}
    assert all(users[h["id"]] == "user-2" for h in hits2)
