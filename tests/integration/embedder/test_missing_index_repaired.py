"""A collection left without its vector index (its creator stopped between the
collection and its index) is repaired by the next ``ensure``: searching it
answers instead of failing with "index meta not exist"."""

from __future__ import annotations

from embedder.store import ChunkStore, StoreConfig
from mlmesh.testing.milvus import collection_name


def _row(chunk: str, user: str, vector: list[float]) -> dict[str, object]:
    return {"chunk_id": chunk, "user_id": user, "doc_id": chunk.split(":")[0], "chunk_index": 0,
            "text": "t", "source": "test", "model_name": "m", "model_version": "1",
            "text_hash": "h", "created_at_ms": 0, "embedded_at_ms": 0, "vector": vector}


def test_ensure_creates_a_missing_vector_index(milvus_uri: str) -> None:
    config = StoreConfig(uri=milvus_uri, collection=collection_name("idx_"), dim=4)
    first = ChunkStore(config)
    first.ensure()
    client = first.client
    client.release_collection(config.collection)
    client.drop_index(config.collection, "vector")
    assert not client.list_indexes(config.collection, field_name="vector")
    client.load_collection(config.collection)  # what the failed creator went on to do

    second = ChunkStore(config)
    try:
        second.ensure()
        assert second.client.list_indexes(config.collection, field_name="vector")
        second.upsert([_row("a:0@1", "u1", [1.0, 0.0, 0.0, 0.0]),
                       _row("b:0@1", "u1", [0.0, 1.0, 0.0, 0.0]),
                       _row("c:0@1", "u2", [1.0, 0.0, 0.0, 0.0])])
        hits = second.search([[1.0, 0.1, 0.0, 0.0]], "u1", "1", limit=5)[0]
        assert [h["id"] for h in hits] == ["a:0@1", "b:0@1"]
        second.ensure()  # idempotent once the index is there
        assert len(second.client.list_indexes(config.collection, field_name="vector")) == 1
    finally:
        second.client.drop_collection(config.collection)
        second.close()
        first.close()
