"""Embedder benchmark, one run, every figure against a baseline of the same run.

(a) direct ONNX Runtime at batch 32 on the corpus of bench/embedding_direct.py,
    with the graph of the version the embedder serves (INT8 by default);
(b) the embedder end to end (`python -m embedder`: Kafka -> Triton -> Milvus)
    on the same texts, docs/s from a backlog, and the ratio (target >= 0.85);
(c) p99 document -> searchable latency at 50% of (b) (target <= 1 s), each
    EmbeddingWritten checked against Milvus (the chunk must be there);
(d) Milvus filtered top-10 search p50/p99 and recall@10 vs brute force at 100k
    vectors (targets recall >= 0.95, p99 <= 20 ms).

    .venv/bin/python bench/embedder.py [--docs 1500] [--vectors 100000]

Starts its own Kafka, Triton and Milvus on free ports in a temp dir, stops them
at the end. Writes bench/results/embedder.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in ("bench", "lib", "tooling", "services", "gen/python"):
    sys.path.insert(0, str(ROOT / p))

from embedding_direct import corpus, measure  # noqa: E402

from embedder.store import ChunkStore, StoreConfig, chunk_id  # noqa: E402
from mlmesh.embedding import OnnxEmbedder  # noqa: E402
from mlmesh.embedding.client import DEFAULT_VERSION, GRAPH_FILES  # noqa: E402
from mlmesh.events.v1 import document_pb2, embedding_written_pb2  # noqa: E402
from mlmesh.kafka.config import producer_config  # noqa: E402
from mlmesh.kafka.producer import MeshProducer  # noqa: E402
from mlmesh.kafka.topics import TopicSpec, ensure_topics  # noqa: E402
from mlmesh.localstack.base import free_port  # noqa: E402
from mlmesh.localstack.kafka import KafkaComponent  # noqa: E402
from mlmesh.localstack.milvus import MilvusComponent  # noqa: E402
from mlmesh.localstack.triton import TritonComponent  # noqa: E402

log = logging.getLogger("bench.embedder")


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


class Written:
    """Collects EmbeddingWritten events (arrival time, event) in a thread."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Consumer

        self.events: list[tuple[float, embedding_written_pb2.EmbeddingWritten]] = []
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                                   "auto.offset.reset": "earliest"})
        self._consumer.subscribe([topic])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            value = msg.value()
            if value is None:
                continue
            ev = embedding_written_pb2.EmbeddingWritten.FromString(value)
            self.events.append((time.time(), ev))

    def wait(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len({e.doc_id for _, e in self.events}) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.events)}/{n} documents written")
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def document(doc_id: str, user: str, text: str) -> bytes:
    doc = document_pb2.Document(doc_id=doc_id, user_id=user, text=text, source="bench")
    doc.created_at.FromMilliseconds(int(time.time() * 1000))
    return doc.SerializeToString()


def end_to_end(kafka: str, triton_grpc: str, milvus_uri: str, texts: list[str], n_docs: int,
               seconds_at_half: float, logs: Path) -> dict[str, Any]:
    topic, out = "bench.documents", "bench.embeddings_written"
    ensure_topics(kafka, [TopicSpec(topic, 4), TopicSpec(topic + ".dlq", 1), TopicSpec(out, 1)])
    producer = MeshProducer(producer_config(kafka, "bench-embedder"))
    for i in range(n_docs):  # the backlog: the embedder starts with all of it queued
        producer.produce(topic, document(f"b-{i}", f"u{i % 50}", texts[i % len(texts)]),
                         key=f"u{i % 50}")
    producer.flush(60)
    env = {**os.environ, "MLMESH_KAFKA_BOOTSTRAP": kafka, "MLMESH_TRITON_GRPC": triton_grpc,
           "MLMESH_MILVUS_URI": milvus_uri, "MLMESH_EMBEDDER_INPUT_TOPIC": topic,
           "MLMESH_EMBEDDER_OUTPUT_TOPIC": out, "MLMESH_EMBEDDER_METRICS_PORT": str(free_port()),
           "MLMESH_EMBEDDER_COLLECTION": "bench_chunks", "MLMESH_LOG_LEVEL": "WARNING"}
    written = Written(kafka, out)
    with open(logs / "embedder.log", "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "embedder"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    result: dict[str, Any] = {"docs": n_docs}
    try:
        written.wait(n_docs, timeout=600)
        times = sorted(e.written_at.ToMilliseconds() for _, e in written.events)
        # the first batch's events come after its model time: count docs after it
        first_batch = sum(1 for t in times if t == times[0])
        span_s = (times[-1] - times[0]) / 1000.0
        rate = (n_docs - first_batch) / span_s
        result["docs_per_s"] = round(rate, 1)
        # (c) paced load at half of that rate
        store = ChunkStore(StoreConfig(uri=milvus_uri, collection="bench_chunks"))
        target = rate / 2
        seen = len(written.events)
        n = int(target * seconds_at_half)
        t0 = time.monotonic()
        for i in range(n):
            due = t0 + i / target
            while time.monotonic() < due:
                time.sleep(min(0.005, max(0.0, due - time.monotonic())))
            producer.produce(topic, document(f"h-{i}", f"u{i % 50}", texts[(i * 7) % len(texts)]),
                             key=f"u{i % 50}")
        producer.flush(60)
        written.wait(n_docs + n, timeout=300)
        half = [e for _, e in written.events[seen:] if e.doc_id.startswith("h-")]
        lat = [e.doc_to_searchable_ms for e in half]
        sample = [e.doc_id for e in half[:: max(1, len(half) // 50)]]
        visible = sum(1 for d in sample
                      if store.count(f'chunk_id == "{chunk_id(d, 0, DEFAULT_VERSION)}"'))
        result["half_load"] = {"target_docs_per_s": round(target, 1), "docs": len(half),
                               "doc_to_searchable_ms_p50": pct(lat, 50),
                               "doc_to_searchable_ms_p99": pct(lat, 99),
                               "doc_to_searchable_ms_max": round(max(lat), 1),
                               "checked_in_milvus": f"{visible}/{len(sample)}"}
        store.close()
    finally:
        written.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return result


def milvus_search(uri: str, n_vectors: int, users: int, queries: int,
                  index_type: str) -> dict[str, Any]:
    """Filtered top-10 over ``n_vectors`` clustered unit vectors of ``users`` users."""
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(64, 384)).astype(np.float32)
    assign = rng.integers(0, 64, size=n_vectors)
    vecs = centers[assign] + 0.6 * rng.normal(size=(n_vectors, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    user_of = np.arange(n_vectors) % users
    store = ChunkStore(StoreConfig(uri=uri, collection=f"bench_search_{index_type.lower()}",
                                   index_type=index_type))
    store.ensure()
    t0 = time.perf_counter()
    for start in range(0, n_vectors, 1000):
        rows = [{"chunk_id": chunk_id(f"d{i}", 0, "1"), "user_id": f"u{user_of[i]}",
                 "doc_id": f"d{i}", "chunk_index": 0, "text": "", "source": "bench",
                 "model_name": "minilm_embedding", "model_version": "1", "text_hash": "",
                 "created_at_ms": 0, "embedded_at_ms": 0, "vector": vecs[i].tolist()}
                for i in range(start, min(n_vectors, start + 1000))]
        store.upsert(rows)
    build_s = time.perf_counter() - t0
    store.client.flush(store.config.collection)
    lat: list[float] = []
    recalls: list[float] = []
    for q in range(queries + 20):
        user = int(rng.integers(0, users))
        own = np.flatnonzero(user_of == user)
        query = vecs[rng.choice(own)] + 0.3 * rng.normal(size=384).astype(np.float32)
        query /= np.linalg.norm(query)
        s = time.perf_counter()
        hits = store.search([query], f"u{user}", "1", limit=10)[0]
        elapsed = (time.perf_counter() - s) * 1e3
        if q < 20:
            continue  # warm-up
        lat.append(elapsed)
        truth = own[np.argsort(-(vecs[own] @ query))[:10]]
        want = {chunk_id(f"d{i}", 0, "1") for i in truth}
        recalls.append(len(want & {h["id"] for h in hits}) / 10)
    store.client.drop_collection(store.config.collection)
    store.close()
    return {"vectors": n_vectors, "users": users, "index": index_type,
            "build_s": round(build_s, 1), "queries": queries,
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "recall_at_10": round(float(np.mean(recalls)), 4)}


@contextmanager
def servers(state: Path) -> Iterator[tuple[KafkaComponent, TritonComponent, MilvusComponent]]:
    """Kafka, Triton (the embedding model) and Milvus on free ports under
    ``state``, stopped on the way out (one stopped early is fine)."""
    kafka = KafkaComponent(state, port=free_port(), controller_port=free_port(),
                           heap="400m", name="kafka-bench")
    triton = TritonComponent(state, free_port(), free_port(), free_port(),
                             name="triton-bench")
    milvus = MilvusComponent(state, port=free_port(), name="milvus-bench")
    started: list[Any] = []
    try:
        for comp in (kafka, triton, milvus):
            comp.start(timeout=180)
            started.append(comp)
        yield kafka, triton, milvus
    finally:
        for comp in reversed(started):
            comp.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--seconds", type=float, default=20.0, help="direct ONNX measure time")
    parser.add_argument("--half-seconds", type=float, default=20.0)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--index", default="FLAT")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/embedder.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    texts = corpus(512)
    result: dict[str, Any] = {"bench": "embedder", "cpu_count": os.cpu_count(),
                              "platform": platform.platform(),
                              "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
    # the in-process baseline runs the graph of the version the embedder serves
    onnx = OnnxEmbedder(threads=0, batch_size=32, graph=GRAPH_FILES[DEFAULT_VERSION])
    with tempfile.TemporaryDirectory(prefix="mlmesh-bench-embedder-") as tmp:
        state = Path(tmp)
        with servers(state) as (kafka, triton, milvus):
            # the baseline is measured right before AND after (b), servers up and idle,
            # so a shared, loaded machine affects both sides alike
            before = measure(onnx.embed, texts, 32, args.seconds)
            e2e = end_to_end(kafka.bootstrap, triton.grpc_url, milvus.uri, texts, args.docs,
                             args.half_seconds, state)
            after = measure(onnx.embed, texts, 32, args.seconds)
            direct = {"before": before, "after": after, "docs_per_s": round(
                (before["docs_per_s"] + after["docs_per_s"]) / 2, 1)}
            result["direct_onnx_batch32"] = direct
            log.info("direct %s", direct)
            e2e["ratio_vs_direct"] = round(e2e["docs_per_s"] / direct["docs_per_s"], 3)
            result["end_to_end"] = e2e
            log.info("end to end %s", e2e)
            triton.stop()  # the search figures are Milvus' alone
            result["milvus_search"] = milvus_search(milvus.uri, args.vectors, args.users,
                                                    args.queries, args.index)
            log.info("search %s", result["milvus_search"])
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    s, e = result["milvus_search"], result["end_to_end"]
    d = result["direct_onnx_batch32"]
    # too few baseline batches (a saturated machine) make the ratio meaningless
    reliable = d["before"]["batches"] >= 10 and d["after"]["batches"] >= 10
    result["baseline_reliable"] = reliable
    result["targets"] = {
        "ratio_ge_0.85": (e["ratio_vs_direct"] >= 0.85) if reliable else None,
        "p99_searchable_le_1000ms": e["half_load"]["doc_to_searchable_ms_p99"] <= 1000,
        "search_recall_ge_0.95": s["recall_at_10"] >= 0.95,
        "search_p99_le_20ms": s["p99_ms"] <= 20,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s: %s", args.out, result["targets"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
