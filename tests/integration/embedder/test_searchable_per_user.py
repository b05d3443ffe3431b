"""Documents produced to Kafka become searchable in Milvus, filtered by user;
no user ever retrieves another user's chunks; one EmbeddingWritten per doc."""

from __future__ import annotations

from typing import Any

from embedder.store import chunk_id
from mlmesh.embedding import TritonEmbedder
from mlmesh.embedding.client import DEFAULT_VERSION
from mlmesh.events.v1 import embedding_written_pb2
from mlmesh.testing.kafka import consume_all

TOPICS = {
    "alice": ["refund for my broken espresso machine", "the coffee grinder is noisy",
              "descaling the espresso machine every month"],
    "bob": ["my flight to lisbon was delayed six hours", "lost luggage at the airport",
            "seat upgrade on the long haul flight"],
    "carol": ["the tomato plants in my garden wilted", "how deep to plant tulip bulbs",
              "compost for vegetable beds"],
}


def test_documents_become_searchable_with_user_filter(emb_env: Any) -> None:
    docs = [emb_env.doc(f"{user}-{i}", user, text) for user, texts in TOPICS.items()
            for i, text in enumerate(texts)]
    emb_env.send(docs)
    svc = emb_env.start()
    store = emb_env.store()
    emb_env.wait_for(lambda: emb_env.count(store) == len(docs), 90, "all chunks in Milvus")

    triton = TritonEmbedder(emb_env.triton_grpc)
    try:
        for user, texts in TOPICS.items():
            for i, text in enumerate(texts):
                vec = triton.embed([text])[0]
                hits = store.search([vec], user_id=user, model_version=DEFAULT_VERSION, limit=10,
                                    output_fields=["chunk_id", "doc_id", "user_id", "text"])[0]
                assert hits, f"no hits for {user}"
                assert hits[0]["id"] == chunk_id(f"{user}-{i}", 0, DEFAULT_VERSION)
                assert hits[0]["entity"]["text"] == text
                assert {h["entity"]["user_id"] for h in hits} == {user}
                assert len(hits) == len(texts)  # all of this user's chunks, nobody else's
                # another user's filter never returns this user's chunk, even for its own text
                for other in TOPICS:
                    if other == user:
                        continue
                    cross = store.search([vec], user_id=other, model_version=DEFAULT_VERSION,
                                         limit=10, output_fields=["user_id"])[0]
                    assert {h["entity"]["user_id"] for h in cross} == {other}
        # a version nobody wrote returns nothing
        assert store.search([triton.embed(["x"])[0]], user_id="alice", model_version="99")[0] == []
    finally:
        triton.close()

    events = [embedding_written_pb2.EmbeddingWritten.FromString(v)
              for _, v in consume_all(emb_env.bootstrap, emb_env.out_topic)]
    assert sorted(e.doc_id for e in events) == sorted(d.doc_id for d in docs)
    assert all(e.chunk_count == 1 and e.model_version == DEFAULT_VERSION for e in events)
    assert all(0 <= e.doc_to_searchable_ms < 120_000 for e in events)
    assert all(e.user_id == e.doc_id.split("-")[0] for e in events)
    assert svc.loop.stats.dead_lettered == 0
