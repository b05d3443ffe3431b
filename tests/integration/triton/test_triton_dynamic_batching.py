"""Concurrent single-text requests are merged by Triton's dynamic batcher:
fewer model executions than inferences (statistics API).

Triton counts a request when the backend releases it, which comes after the
response went out: the statistics can trail the last responses by a moment
(a CI run read 121 of 128), so they are read again until every request is
counted or a deadline passes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mlmesh.embedding import TritonEmbedder
from mlmesh.testing.triton import TritonServer, stats_counted


def _counts_after(client: TritonEmbedder, inferences: int = 0) -> tuple[int, int]:
    """(inferences, executions) summed over the loaded versions (fp32 and INT8:
    the requests go to the latest), once ``inferences`` are counted."""
    stats = stats_counted(client, inferences)
    return (sum(int(v.get("inference_count", 0)) for v in stats),
            sum(int(v.get("execution_count", 0)) for v in stats))


def test_concurrent_requests_are_batched(triton_server: TritonServer) -> None:
    client = TritonEmbedder(triton_server.grpc_url, timeout_s=60)
    texts = [f"concurrent request number {i} about sliding windows" for i in range(128)]
    try:
        inf0, exe0 = _counts_after(client)
        with ThreadPoolExecutor(max_workers=16) as pool:
            vectors = list(pool.map(lambda t: client.embed([t]), texts))
        inf1, exe1 = _counts_after(client, inf0 + len(texts))
    finally:
        client.close()
    assert all(v.shape == (1, 384) for v in vectors)
    assert np.allclose(np.linalg.norm(np.concatenate(vectors), axis=1), 1.0, atol=1e-5)
    assert inf1 - inf0 == len(texts)
    executions = exe1 - exe0
    assert 0 < executions < len(texts) // 2, (inf1 - inf0, executions)
