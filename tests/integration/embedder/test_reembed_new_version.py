"""Re-embedding into a new model version runs beside the live one: both versions'
rows coexist, search per version keeps answering throughout, and dropping the
old version leaves exactly the new one. (Triton serves one minilm version here,
so version "2" is filled by calling Triton version 1: the mechanics under test
are the Milvus side's.)"""

from __future__ import annotations

from typing import Any

from embedder.reembed import main as reembed_main
from embedder.reembed import reembed_from_milvus
from mlmesh.embedding import TritonEmbedder


def test_reembed_to_new_version_without_breaking_search(emb_env: Any,
                                                         monkeypatch: Any) -> None:
    texts = ["the espresso machine leaks water", "my flight was cancelled",
             "tulip bulbs in autumn", "the invoice total is wrong"]
    docs = [emb_env.doc(f"re-{i}", f"u{i % 2}", t) for i, t in enumerate(texts)]
    docs.append(emb_env.doc("re-long", "u0", "A long note about the shipping delay. " * 60))
    emb_env.send(docs)
    svc = emb_env.start()
    store = emb_env.store()
    emb_env.wait_for(lambda: len({r["doc_id"] for r in store.query("", ["doc_id"])}) == len(docs),
                     90, "version 1 written")
    v1 = store.query('model_version == "1"', ["chunk_id", "text", "user_id", "doc_id"])

    n = reembed_from_milvus(svc.settings, "1", "2", page=3, triton_version="1")
    assert n == len(v1)
    v2 = store.query('model_version == "2"', ["chunk_id", "text", "user_id", "doc_id"])
    assert sorted(r["chunk_id"].replace("@2", "@1") for r in v2) == sorted(
        r["chunk_id"] for r in v1)
    assert {(r["doc_id"], r["text"], r["user_id"]) for r in v2} == {
        (r["doc_id"], r["text"], r["user_id"]) for r in v1}
    # searching either version answers, each with its own rows only
    triton = TritonEmbedder(emb_env.triton_grpc)
    vec = triton.embed([texts[0]])[0]
    triton.close()
    for version in ("1", "2"):
        hits = store.search([vec], "u0", version, limit=10, output_fields=["model_version"])[0]
        assert hits[0]["id"] == f"re-0:0@{version}"
        assert {h["entity"]["model_version"] for h in hits} == {version}
    # re-running is a no-op (idempotent upserts)
    reembed_from_milvus(svc.settings, "1", "2", triton_version="1")
    assert store.count('model_version == "2"') == len(v1)
    # after the switch, the old version is dropped with the CLI
    for key, value in emb_env.env_vars(MLMESH_EMBEDDER_MODEL_VERSION="2").items():
        monkeypatch.setenv(key, value)
    assert reembed_main(["--drop-version", "1"]) == 0
    assert store.count('model_version == "1"') == 0
    assert store.count() == len(v1)
