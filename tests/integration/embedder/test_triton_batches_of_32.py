"""Under load the calls Triton executes carry exactly 32 chunks (Triton's own
statistics API), matching the service's batcher record; nothing above 32."""

from __future__ import annotations

from typing import Any

from mlmesh.embedding import TritonEmbedder


def _executions(client: TritonEmbedder) -> dict[int, int]:
    stats = client.statistics()
    out: dict[int, int] = {}
    for model in stats.get("model_stats", []):
        for b in model.get("batch_stats", []):
            out[int(b["batch_size"])] = out.get(int(b["batch_size"]), 0) + int(
                b["compute_infer"]["count"])
    return out


def test_batches_at_triton_are_32_under_load(emb_env: Any) -> None:
    n_docs = 640  # one chunk each, queued before the service starts: a backlog = load
    docs = [emb_env.doc(f"load-{i}", f"u{i % 13}", f"short note number {i} about order {i * 7}")
            for i in range(n_docs)]
    emb_env.send(docs)
    client = TritonEmbedder(emb_env.triton_grpc)
    before = _executions(client)
    svc = emb_env.start(consume_batch=256)
    store = emb_env.store()
    emb_env.wait_for(lambda: emb_env.count(store) == n_docs, 180, "all docs embedded")
    after = _executions(client)
    client.close()
    delta = {size: after.get(size, 0) - before.get(size, 0) for size in after}
    delta = {s: n for s, n in delta.items() if n > 0}
    executed = sum(s * n for s, n in delta.items())
    assert executed == n_docs, delta  # every chunk went through Triton once
    assert max(delta) == 32, delta
    full = delta[32] * 32
    assert full / n_docs >= 0.9, delta  # tails (< 32) only at the end of Kafka batches
    # the service's own record agrees with Triton's
    assert dict(svc.batcher.calls) == delta
