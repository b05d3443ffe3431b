"""Re-embedding into a new model version runs beside the live one: a collection
written with the fp32 model (version 1) moves to the INT8 one (version 2, the
CPU default) while both versions' rows coexist, search per version keeps
answering throughout with its own model's query vectors, and dropping the old
version leaves exactly the new one."""

from __future__ import annotations

from typing import Any

import numpy as np

from embedder.reembed import main as reembed_main
from embedder.reembed import reembed_from_milvus
from mlmesh.embedding import TritonEmbedder
from mlmesh.embedding.client import FP32_VERSION, INT8_VERSION


def test_reembed_to_new_version_without_breaking_search(emb_env: Any,
                                                         monkeypatch: Any) -> None:
    texts = ["the espresso machine leaks water", "my flight was cancelled",
             "tulip bulbs in autumn", "the invoice total is wrong"]
    docs = [emb_env.doc(f"re-{i}", f"u{i % 2}", t) for i, t in enumerate(texts)]
    docs.append(emb_env.doc("re-long", "u0", "A long note about the shipping delay. " * 60))
    emb_env.send(docs)
    svc = emb_env.start(model_version=FP32_VERSION)
    store = emb_env.store()
    emb_env.wait_for(lambda: len({r["doc_id"] for r in store.query("", ["doc_id"])}) == len(docs),
                     90, "version 1 written")
    v1 = store.query('model_version == "1"', ["chunk_id", "text", "user_id", "doc_id"])

    n = reembed_from_milvus(svc.settings, "1", "2", page=3)  # Triton version 2: INT8
    assert n == len(v1)
    v2 = store.query('model_version == "2"', ["chunk_id", "text", "user_id", "doc_id",
                                              "vector"])
    assert sorted(r["chunk_id"].replace("@2", "@1") for r in v2) == sorted(
        r["chunk_id"] for r in v1)
    assert {(r["doc_id"], r["text"], r["user_id"]) for r in v2} == {
        (r["doc_id"], r["text"], r["user_id"]) for r in v1}
    # the INT8 rows are new vectors of the same texts, close to the fp32 ones
    fp32_rows = {r["chunk_id"]: r for r in store.query(
        'model_version == "1"', ["chunk_id", "vector"])}
    for row in v2:
        a = np.asarray(row["vector"], np.float32)
        b = np.asarray(fp32_rows[row["chunk_id"].replace("@2", "@1")]["vector"], np.float32)
        assert 0.97 < float(a @ b) < 0.99999, row["chunk_id"]  # moved, not copied
    # searching either version answers, each with its own model's query vector
    for version in (FP32_VERSION, INT8_VERSION):
        triton = TritonEmbedder(emb_env.triton_grpc, version=version)
        vec = triton.embed([texts[0]])[0]
        triton.close()
        hits = store.search([vec], "u0", version, limit=10, output_fields=["model_version"])[0]
        assert hits[0]["id"] == f"re-0:0@{version}"
        assert {h["entity"]["model_version"] for h in hits} == {version}
    # re-running is a no-op (idempotent upserts)
    reembed_from_milvus(svc.settings, "1", "2")
    assert store.count('model_version == "2"') == len(v1)
    # after the switch, the old version is dropped with the CLI
    for key, value in emb_env.env_vars(MLMESH_EMBEDDER_MODEL_VERSION="2").items():
        monkeypatch.setenv(key, value)
    assert reembed_main(["--drop-version", "1"]) == 0
    assert store.count('model_version == "1"') == 0
    assert store.count() == len(v1)
