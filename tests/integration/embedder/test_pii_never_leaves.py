"""PII never reaches Triton's inputs (recorded at the service's model boundary)
nor Milvus (every stored text checked); placeholders and counts are reported."""

from __future__ import annotations

from typing import Any

from embedder.pii import redact
from mlmesh.embedding import TritonEmbedder
from mlmesh.events.v1 import embedding_written_pb2
from mlmesh.testing.kafka import consume_all

SECRETS = ["jane.roe@example.org", "+1 415-555-0199", "(212) 555-0147", "4111 1111 1111 1111",
           "5555-5555-5555-4444", "DE89 3704 0044 0532 0130 00", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
           "hunter2hunter", "AKIAIOSFODNN7EXAMPLE", "bob.smith77@mail.example.com"]
FILLER = "The parcel arrived late and the box was damaged during shipping. "


def test_pii_is_redacted_before_model_and_store(emb_env: Any) -> None:
    texts = [
        f"Hi, reach me at {SECRETS[0]} or call {SECRETS[1]}. {FILLER}",
        f"Office line {SECRETS[2]}; card {SECRETS[3]} was charged twice.",
        f"My other card {SECRETS[4]}, refund to IBAN {SECRETS[5]} please.",
        f"I pasted my key {SECRETS[6]} and password: {SECRETS[7]} by mistake",
        # a long document: PII deep inside, spread across chunk boundaries
        (FILLER * 40) + f" aws {SECRETS[8]} contact {SECRETS[9]} " + (FILLER * 40),
    ]
    docs = [emb_env.doc(f"pii-{i}", "u-pii", t) for i, t in enumerate(texts)]
    emb_env.send(docs)
    recorder = emb_env.recorder(TritonEmbedder(emb_env.triton_grpc))
    emb_env.start(embedder=recorder)
    store = emb_env.store()
    emb_env.wait_for(lambda: len({r["doc_id"] for r in store.query("", ["doc_id"])}) == len(docs),
                     90, "all docs stored")

    sent = " ".join(recorder.texts)
    stored = store.query("", ["text", "doc_id", "chunk_index"])
    assert len(recorder.texts) >= len(stored) >= len(docs) + 1  # the long doc has >1 chunk
    for secret in SECRETS:
        assert secret not in sent, f"{secret!r} reached Triton"
        for row in stored:
            assert secret not in row["text"], f"{secret!r} stored in {row['doc_id']}"
    # digits of the card/phone never appear even with other separators
    assert "4111111111111111" not in sent.replace(" ", "").replace("-", "")
    for placeholder in ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SECRET]"):
        assert placeholder in sent
    # what was stored is exactly the redacted chunks (the same text went to the model)
    assert {r["text"] for r in stored} <= set(recorder.texts)

    events = {e.doc_id: e for e in (embedding_written_pb2.EmbeddingWritten.FromString(v)
                                    for _, v in consume_all(emb_env.bootstrap, emb_env.out_topic))}
    for doc, text in zip(docs, texts, strict=True):
        assert events[doc.doc_id].redactions == redact(text).total > 0
