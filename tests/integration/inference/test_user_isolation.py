"""User A never gets user B's data: Search and Predict are filtered to the
caller's user_id, even with B's exact text and with hostile user ids."""

from __future__ import annotations

import uuid
from typing import Any

from inference.app import Service
from mlmesh.inference.v1 import inference_service_pb2 as pb


def test_search_returns_only_the_callers_chunks(inference_env: Any, chunks: Any,
                                                service: Service) -> None:
    a, b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    secret = "my card is blocked and the bank number is secret"
    b_ids = inference_env.write_chunks(chunks, b, [secret, "transfer funds to this account"])
    a_ids = inference_env.write_chunks(chunks, a, ["I love the new recommendations"])
    channel, stub = inference_env.stub(service)
    with channel:
        resp = stub.Search(pb.SearchRequest(user_id=a, query=secret, k=50), timeout=10)
        assert [c.chunk_id for c in resp.chunks] == a_ids
        theirs = stub.Search(pb.SearchRequest(user_id=b, query=secret, k=1), timeout=10)
        assert theirs.chunks[0].chunk_id == b_ids[0] and theirs.chunks[0].similarity > 0.99
        pred = stub.Predict(pb.PredictRequest(user_id=a, text=secret, k=50), timeout=10)
        assert {c.chunk_id for c in pred.chunks} == set(a_ids)
        # Expression injection: the id is one quoted literal, never part of the filter.
        for hostile in (f'{a}" or user_id != "', f'{a}\\" or user_id like "%', 'x" || true || "'):
            r = stub.Search(pb.SearchRequest(user_id=hostile, query=secret, k=50), timeout=10)
            assert not r.chunks, hostile


def test_source_filter(inference_env: Any, chunks: Any, service: Service) -> None:
    u = f"s-{uuid.uuid4().hex[:6]}"
    chat = inference_env.write_chunks(chunks, u, ["refund please"], source="chat")
    inference_env.write_chunks(chunks, u, ["refund please now"], source="review")
    channel, stub = inference_env.stub(service)
    with channel:
        r = stub.Search(pb.SearchRequest(user_id=u, query="refund", k=10, source="chat"),
                        timeout=10)
    assert [c.chunk_id for c in r.chunks] == chat
