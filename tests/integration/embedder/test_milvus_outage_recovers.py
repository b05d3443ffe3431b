"""Milvus goes down mid-stream: the embedder pauses and retries with backoff,
/readyz says not ready, nothing is skipped or committed; when Milvus is back
it recovers on its own and every document is stored exactly once."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlmesh.embedding.client import DEFAULT_VERSION
from mlmesh.localstack.base import free_port
from mlmesh.localstack.milvus import MilvusComponent


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


def test_milvus_outage_pauses_then_recovers(emb_env: Any, tmp_path: Path) -> None:
    milvus = MilvusComponent(tmp_path / "state", port=free_port(), name="milvus-outage")
    milvus.start(timeout=90)
    port = free_port()
    try:
        svc = emb_env.start(milvus_uri=milvus.uri, metrics_port=port, max_backoff_s=1.0,
                            milvus_timeout_s=3.0)
        base = f"http://127.0.0.1:{port}"
        store = emb_env.store(uri=milvus.uri)
        first = [emb_env.doc(f"before-{i}", "u1", f"note {i} written before") for i in range(20)]
        emb_env.send(first)
        emb_env.wait_for(lambda: emb_env.count(store) == 20, 90, "first docs")
        emb_env.wait_for(lambda: _get(f"{base}/readyz")[0] == 200, 30, "ready")

        milvus.stop()
        second = [emb_env.doc(f"during-{i}", "u2", f"note {i} written during") for i in range(20)]
        emb_env.send(second)
        emb_env.wait_for(lambda: svc.loop.stats.retries >= 2, 60, "retries while down")
        code, body = _get(f"{base}/readyz")
        assert code == 503 and body["checks"]["milvus"] is False
        assert body["checks"]["kafka"] is True and body["checks"]["triton"] is True
        health_code, health = _get(f"{base}/healthz")
        assert health_code == 200 and health["retries"] >= 2  # alive, just waiting
        assert svc.loop.stats.consumed == 20  # the failing batch was not committed

        milvus.start(timeout=90)
        try:
            emb_env.wait_for(lambda: emb_env.count(store) == 40, 120, "all docs after recovery")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: count={emb_env.count(store)} "
                                 f"last_error={svc.loop.stats.last_error}") from None
        rows = store.query("", ["chunk_id"])
        assert sorted(r["chunk_id"] for r in rows) == sorted(
            f"{d.doc_id}:0@{DEFAULT_VERSION}" for d in [*first, *second])
        emb_env.wait_for(lambda: _get(f"{base}/readyz")[0] == 200, 30, "ready again")
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        assert "embedder_triton_batch_size" in metrics and "embedder_retries" in metrics
        assert "embedder_doc_to_searchable" in metrics
        store.close()
    finally:
        emb_env.stop_all()
        milvus.stop()
