"""Inference starts with its stores down and answers degraded (readiness =
"can answer, possibly degraded"): Milvus unreachable at start is a retrieval
that raises RetrievalUnavailable until the health probe connects; a Feast
registry without the tiles view yet (the feature writer applies it) fails
each read, and the next read looks again."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inference.retrieval import MilvusRetriever, RetrievalUnavailable


class FlakyClient:
    up = False

    def __init__(self, **kwargs: Any) -> None:
        if not FlakyClient.up:
            raise ConnectionError("milvus down")

    def list_collections(self, **kwargs: Any) -> list[str]:
        return []

    def search(self, *args: Any, **kwargs: Any) -> list[list[dict[str, Any]]]:
        return [[{"id": "c1", "distance": 0.5,
                  "entity": {"chunk_id": "c1", "doc_id": "d1", "text": "t"}}]]

    def close(self) -> None:
        pass


def test_milvus_down_at_start_is_degraded_then_recovers(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    import pymilvus

    monkeypatch.setattr(pymilvus, "MilvusClient", FlakyClient)
    FlakyClient.up = False
    r = MilvusRetriever("http://127.0.0.1:1", "chunks", "v1")  # does not raise
    with pytest.raises(RetrievalUnavailable, match="not connected"):
        r.search(np.zeros(4), "u1", 3, 0.1)
    with pytest.raises(ConnectionError):
        r.probe()
    FlakyClient.up = True
    assert r.probe()
    assert [c.chunk_id for c in r.search(np.zeros(4), "u1", 3, 0.1)] == ["c1"]
    r.close()


class Registry:
    def __init__(self) -> None:
        self.views: dict[str, object] = {}
        self.config = object()
        self.provider = self

    def get_feature_view(self, name: str, allow_registry_cache: bool = True) -> object:
        if name not in self.views:
            raise LookupError(f"Feature view {name} does not exist")
        return self.views[name]

    def online_read(self, config: object, view: object, keys: list[Any],
                    requested: list[str]) -> list[tuple[None, None]]:
        return [(None, None)]


def test_tiles_view_missing_at_start_fails_reads_until_applied() -> None:
    from inference.features import FeastOnlineReader

    store = Registry()
    reader = FeastOnlineReader(store)  # does not raise
    with pytest.raises(LookupError):
        reader.read("u1")
    store.views["user_tiles"] = object()  # the writer applied the definitions
    fv = reader.read("u1")
    assert fv.defaulted  # no tiles for the user yet: defaults, said so
