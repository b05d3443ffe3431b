"""Scaling you can see, the embedder (issue #29): the same documents at 1 and 2
embedder replicas (the cluster profile's ``ReplicaSet``, one consumer group),
on one Triton and one Milvus: ``python -m bench.scaling_embedder``.

Each replica set waits on an empty ``documents`` topic of 4 partitions until
every replica is ready (Kafka, Triton and Milvus answer), then ``--docs``
documents are produced at once. Figures per set: documents/s from the first
produced to the last EmbeddingWritten, and CPU time per document of the
embedder replicas (their process trees) and of Triton (the model's compute,
which the replicas share). On these 2 cores the model's CPU bounds both sets:
the CPU per document is what carries to a fleet (docs/scaling.md §2.6).
Output: bench/results/scaling_embedder.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in ("", "bench", "lib", "tooling", "services", "gen/python"):
    sys.path.insert(0, str(ROOT / _p))

from bench.common import ratio, tree_cpu_seconds, write  # noqa: E402

log = logging.getLogger("bench.scaling_embedder")
PARTITIONS = 4


def embedder_set(kafka: str, triton_grpc: str, triton_pid: int, milvus_uri: str, state: Path,
                 texts: list[str], n_docs: int, replicas: int) -> dict[str, Any]:
    from bench.embedder import Written, document
    from mlmesh.kafka.config import producer_config
    from mlmesh.kafka.producer import MeshProducer
    from mlmesh.kafka.topics import TopicSpec, ensure_topics
    from mlmesh.localstack.base import free_port, port_open
    from mlmesh.localstack.mesh import embedder_factory
    from mlmesh.localstack.stack import StackContext

    tag = f"e{replicas}-{uuid.uuid4().hex[:6]}"
    topic, out = f"{tag}.documents", f"{tag}.embeddings_written"
    ensure_topics(kafka, [TopicSpec(topic, PARTITIONS), TopicSpec(topic + ".dlq", 1),
                          TopicSpec(out, 1)])
    metrics = free_port()  # replica 2's metrics: the next port, free too
    while port_open(metrics + 1):
        metrics = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLMESH_")},
           "MLMESH_KAFKA_BOOTSTRAP": kafka, "MLMESH_TRITON_GRPC": triton_grpc,
           "MLMESH_MILVUS_URI": milvus_uri, "MLMESH_STACK_REPLICAS": str(replicas),
           "MLMESH_STACK_REPLICA_PORT_STEP": "1", "MLMESH_EMBEDDER_INPUT_TOPIC": topic,
           "MLMESH_EMBEDDER_OUTPUT_TOPIC": out, "MLMESH_EMBEDDER_GROUP_ID": tag,
           "MLMESH_EMBEDDER_COLLECTION": f"bench_{tag.replace('-', '_')}",
           "MLMESH_EMBEDDER_METRICS_PORT": str(metrics), "MLMESH_LOG_LEVEL": "WARNING"}
    comp = embedder_factory(StackContext(state_dir=state / tag, env=env))
    comp.start(timeout=240)
    written = Written(kafka, out)
    try:
        st = comp.status()
        pids = [int(str(r["pid"])) for r in st.replicas] or [int(st.pid or 0)]
        time.sleep(5.0)  # the group settled: every replica holds partitions
        cpu0 = sum(tree_cpu_seconds(p) for p in pids)
        tcpu0 = tree_cpu_seconds(triton_pid)
        producer = MeshProducer(producer_config(kafka, f"bench-{tag}"))
        t0 = time.time()
        for i in range(n_docs):
            producer.produce(topic, document(f"{tag}-{i}", f"u{i % 50}", texts[i % len(texts)]),
                             key=f"u{i % 50}")
        producer.flush(60)
        written.wait(n_docs, timeout=900)
        last = max(e.written_at.ToMilliseconds() for _, e in written.events) / 1000.0
        took = last - t0
        cpu = sum(tree_cpu_seconds(p) for p in pids) - cpu0
        tcpu = tree_cpu_seconds(triton_pid) - tcpu0
    finally:
        written.close()
        comp.stop()
    return {"replicas": replicas, "docs": n_docs, "seconds": round(took, 2),
            "docs_per_s": round(n_docs / took, 1), "embedder_cpu_s": round(cpu, 2),
            "embedder_cpu_ms_per_doc": round(cpu / n_docs * 1e3, 2),
            "triton_cpu_ms_per_doc": round(tcpu / n_docs * 1e3, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=600)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from bench.embedder import servers
    from bench.embedding_direct import corpus

    texts = corpus(512)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-embedder-") as tmp, \
            servers(Path(tmp)) as (kafka, triton, milvus):
        tpid = int(triton.status().pid or 0)
        sets = [embedder_set(kafka.bootstrap, triton.grpc_url, tpid, milvus.uri, Path(tmp),
                             texts, args.docs, k) for k in (1, 2)]
    one, two = sets
    result = {
        "docs": args.docs, "partitions": PARTITIONS, "cores": os.cpu_count(), "sets": sets,
        "ratios": [
            ratio("embedder docs/s, 2 replicas vs 1", two["docs_per_s"], one["docs_per_s"],
                  None, "docs/s"),
            ratio("embedder CPU per document, 2 replicas vs 1", two["embedder_cpu_ms_per_doc"],
                  one["embedder_cpu_ms_per_doc"], None, "ms", higher_is_better=False),
            ratio("Triton CPU per document, 2 embedder replicas vs 1",
                  two["triton_cpu_ms_per_doc"], one["triton_cpu_ms_per_doc"], None, "ms",
                  higher_is_better=False),
        ],
    }
    log.info("%s", sets)
    log.info("wrote %s", write("scaling_embedder", result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
