"""Search embeds the query with the embedding model version whose chunks it
searches (#28): a service pinned to a version Triton does not serve answers
UNAVAILABLE naming it, instead of comparing another model's query vector with
that version's chunks."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from inference.app import build
from mlmesh.embedding.client import DEFAULT_VERSION
from mlmesh.inference.v1 import inference_service_pb2 as pb


def test_the_query_is_embedded_by_the_searched_version(inference_env: Any, chunks: Any) -> None:
    user = f"pin-{uuid.uuid4().hex[:6]}"
    mine = inference_env.write_chunks(chunks, user, ["the refund never arrived"])
    for version, works in ((DEFAULT_VERSION, True), ("7", False)):
        svc = build(inference_env.settings(embedding_model_version=version)).start()
        channel, stub = inference_env.stub(svc)
        try:
            req = pb.SearchRequest(user_id=user, query="refund", k=3)
            if works:
                assert [c.chunk_id for c in stub.Search(req, timeout=10).chunks] == mine
            else:
                with pytest.raises(grpc.RpcError) as info:
                    stub.Search(req, timeout=10)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "minilm_embedding v7" in (info.value.details() or "")
        finally:
            channel.close()
            svc.stop(0)
