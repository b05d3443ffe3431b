"""Ingest throughput against two baselines on the same broker and record size:
Kafka's own ProducerPerformance (Java) and a raw confluent-kafka loop producing
pre-serialized bytes. Then the library produce path (protobuf encode + validate
+ produce, with per-record delivery checks) and batched gRPC ingest.

    python -m bench.ingest [--records 200000]   ->  bench/results/ingest.json
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc

from bench.common import broker, java_tool, ratio, write
from ingest.validation import Limits
from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.kafka.config import producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.testing.builders import event


def sample_events(n: int, users: int = 1000) -> list[user_event_pb2.UserEvent]:
    return [event(f"user-{i % users:05d}", i, action=1 + i % 7, amount=float(i % 100))
            for i in range(n)]


def producer_performance(bootstrap: str, topic: str, records: int, size: int) -> float:
    out = java_tool("org.apache.kafka.tools.ProducerPerformance", [
        "--topic", topic, "--num-records", str(records), "--record-size", str(size),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all",
        "enable.idempotence=true", "linger.ms=5", "batch.size=262144"])
    last = [ln for ln in out.splitlines() if "records/sec" in ln][-1]
    return float(re.search(r"([\d.]+) records/sec", last).group(1))  # type: ignore[union-attr]


def raw_loop(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> float:
    from confluent_kafka import Producer

    p = Producer(producer_config(bootstrap, "bench-raw"))
    start = time.perf_counter()
    for key, value in payloads:
        while True:
            try:
                p.produce(topic, value, key)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    assert p.flush(60) == 0
    return len(payloads) / (time.perf_counter() - start)


def library_path(bootstrap: str, topic: str, events: list[user_event_pb2.UserEvent],
                 batch: int = 1000, limits: Limits | None = None) -> float:
    """The library produce path, pipelined like the raw loop: protobuf messages
    in hand are validated, stamped, encoded and produced keyed by user_id, each
    with its own delivery report checked, in batches of ``batch`` (the code
    ingest runs per request: ``Publisher.start`` + ``Publisher.finish``). Up to
    as many records are in flight as the producer's queue holds
    (``queue.buffering.max.messages``), the raw loop's own bound: the oldest
    batch is waited for only then. Decoding a request and answering per record
    belong to the transport: the gRPC figure has them."""
    from collections import deque

    from ingest.publisher import Outcome, Publisher, Records
    from ingest.validation import validate_event
    from mlmesh.ratelimit import KeyedLimiter

    config = producer_config(bootstrap, "bench-lib")
    depth = max(1, int(config["queue.buffering.max.messages"]) // batch)
    producer = MeshProducer(config)
    publisher = Publisher(producer, "bench", KeyedLimiter(0, 0), ack_timeout_s=60)
    limits = limits or Limits()
    stamp = user_event_pb2.UserEvent.DESCRIPTOR.fields_by_name["ingest_time"].number
    chunks = [events[i:i + batch] for i in range(0, len(events), batch)]
    in_flight: deque[Outcome] = deque()
    accepted = 0
    start = time.perf_counter()
    for msgs in chunks:
        if len(in_flight) == depth:
            accepted += publisher.finish(in_flight.popleft()).accepted
        records = Records(msgs, _encoder(msgs), "event_id")
        in_flight.append(publisher.start(topic, records, validate_event, limits, stamp))
    while in_flight:
        accepted += publisher.finish(in_flight.popleft()).accepted
    rate = len(events) / (time.perf_counter() - start)
    assert accepted == len(events), accepted
    return rate


def raw_vs_library(bootstrap: str, raw_topic: str, lib_topic: str,
                   events: list[user_event_pb2.UserEvent], payloads: list[tuple[bytes, bytes]],
                   rounds: int = 3) -> tuple[dict[str, float], list[dict[str, int]]]:
    """The loops warmed up once on a slice (a first pass in a process pays for
    connections, metadata and the interpreter's own warm-up), then measured in
    ``rounds`` interleaved rounds (so drift on a shared host hits all alike):
    the median of each. ``library_python``: the library path without its C
    speedups (validation by the Python rules alone, delivery reports by
    ``Outcome.ack``), for context."""
    loops: dict[str, Callable[[int], float]] = {
        "raw": lambda k: raw_loop(bootstrap, raw_topic, payloads[:k]),
        "library": lambda k: library_path(bootstrap, lib_topic, events[:k]),
        "library_python": lambda k: _pure_python(bootstrap, lib_topic, events[:k]),
    }
    for run in loops.values():
        run(len(events) // 10)
    got = [{f"{name}_eps": round(run(len(events))) for name, run in loops.items()}
           for _ in range(rounds)]
    return {name: statistics.median(r[f"{name}_eps"] for r in got) for name in loops}, got


def _pure_python(bootstrap: str, topic: str, events: list[user_event_pb2.UserEvent]) -> float:
    import ingest.publisher

    native = ingest.publisher.Deliveries
    ingest.publisher.Deliveries = None
    try:
        return library_path(bootstrap, topic, events, limits=Limits(fast_path=False))
    finally:
        ingest.publisher.Deliveries = native


def _encoder(msgs: list[user_event_pb2.UserEvent]) -> Callable[[int], bytes]:
    return lambda i: msgs[i].SerializeToString()


def _channel(address: str, tls: tuple[str, str, str] | None) -> grpc.Channel:
    from pathlib import Path

    from mlmesh.tls import ClientTls, open_channel

    client = ClientTls(*(Path(p) for p in tls)) if tls else None
    return open_channel(address, client, options=[("grpc.use_local_subchannel_pool", 1)])


def _client(args: tuple[str, list[bytes], int, tuple[str, str, str] | None]
            ) -> tuple[int, list[float], float, float]:
    """One client process: ``threads`` threads, each on its own connection (not
    the process-wide subchannel pool, so SO_REUSEPORT spreads them over the
    server's worker processes), each warmed up with one untimed call; then the
    timed calls. Returns (accepted, latencies, wall start, wall end)."""
    address, requests, threads, tls = args
    counts = [0] * threads
    latencies: list[float] = []
    ready = threading.Barrier(threads + 1)
    go = threading.Event()

    def run(k: int) -> None:
        ch = _channel(address, tls)
        call = ch.unary_unary("/mlmesh.ingest.v1.IngestService/Publish",
                              response_deserializer=pb.PublishResponse.FromString)
        call(requests[k], timeout=120)  # warm-up (its events are sent twice: harmless)
        ready.wait()
        go.wait()
        for req in requests[k::threads]:
            t0 = time.perf_counter()
            counts[k] += call(req, timeout=120).accepted
            latencies.append((time.perf_counter() - t0) * 1000)
        ch.close()

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    began = time.time()
    go.set()
    for t in pool:
        t.join()
    return sum(counts), latencies, began, time.time()


def grpc_ingest(bootstrap: str, topics: dict[str, str], events: list[user_event_pb2.UserEvent],
                batch: int = 1000, workers: int = 2, client_procs: int = 2,
                threads: int = 4, extra_env: dict[str, str] | None = None,
                tls: tuple[str, str, str] | None = None) -> tuple[float, list[float]]:
    """`python -m ingest` as a real process (``workers`` processes sharing the
    port), loaded by ``client_procs`` client processes sending pre-serialized
    batches of ``batch`` events over ``threads`` channels each; ``extra_env``
    on top of its environment (TLS), ``tls`` = (CA, cert, key) of the clients."""
    import multiprocessing
    import os
    import subprocess
    import sys
    import tempfile

    from mlmesh.localstack.base import free_port

    port = free_port()
    env = dict(os.environ, MLMESH_KAFKA_BOOTSTRAP=bootstrap,
               MLMESH_INGEST_GRPC_ADDRESS=f"127.0.0.1:{port}",
               MLMESH_INGEST_HTTP_ADDRESS=f"127.0.0.1:{free_port()}",
               MLMESH_INGEST_METRICS_PORT="0", MLMESH_INGEST_USER_RATE="0",
               MLMESH_INGEST_WORKERS=str(workers), MLMESH_INGEST_LAG_INTERVAL_S="30",
               MLMESH_INGEST_EVENTS_TOPIC=topics["events"],
               MLMESH_INGEST_DOCUMENTS_TOPIC=topics["documents"],
               MLMESH_INGEST_LABELS_TOPIC=topics["labels"], MLMESH_LOG_LEVEL="WARNING",
               **(extra_env or {}))
    requests = [pb.PublishRequest(events=events[i:i + batch]).SerializeToString()
                for i in range(0, len(events), batch)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "ingest"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            address = f"{'localhost' if tls else '127.0.0.1'}:{port}"
            ch = _channel(address, tls)
            grpc.channel_ready_future(ch).result(timeout=60)
            ch.close()
            time.sleep(2 if workers > 1 else 0)  # let every worker bind
            shares = [(address, requests[k::client_procs], threads, tls)
                      for k in range(client_procs)]
            with multiprocessing.get_context("spawn").Pool(client_procs) as clients:
                answers = clients.map(_client, shares)
            accepted = sum(a[0] for a in answers)
            # from the first client's start to the last one's end (wall clock)
            rate = accepted / (max(a[3] for a in answers) - min(a[2] for a in answers))
            latencies = [ms for a in answers for ms in a[1]]
        finally:
            proc.terminate()
            proc.wait(60)
    assert accepted == len(events), accepted
    return rate, latencies


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    args = ap.parse_args()
    n = args.records
    events = sample_events(n)
    size = round(sum(len(e.SerializeToString()) for e in events[:1000]) / 1000)
    with broker() as boot:
        names = {k: f"bench-{k}-{uuid.uuid4().hex[:6]}" for k in
                 ("java", "raw", "lib", "events", "documents", "labels")}
        ensure_topics(boot, [TopicSpec(t, 6) for t in names.values()] +
                      [TopicSpec(t + ".dlq", 1) for t in names.values()], timeout=60)
        java = producer_performance(boot, names["java"], n, size)
        payloads = [(e.user_id.encode(), e.SerializeToString()) for e in events]
        medians, rounds = raw_vs_library(boot, names["raw"], names["lib"], events, payloads)
        raw, lib = medians["raw"], medians["library"]
        grpc_rate, latencies = grpc_ingest(boot, names, events)
    figures = {"records": n, "record_bytes": size, "java_producer_performance_eps": round(java),
               "raw_confluent_kafka_eps": round(raw), "library_path_eps": round(lib),
               "library_path_all_python_eps": round(medians["library_python"]),
               "grpc_batched_ingest_eps": round(grpc_rate), "raw_vs_library_rounds": rounds}
    ratios = [
        ratio("library produce path vs raw confluent-kafka loop", lib, raw, 0.70, "events/s"),
        ratio("library produce path without its C speedups (all Python) vs raw loop",
              medians["library_python"], raw, None, "events/s"),
        ratio("raw confluent-kafka loop vs Java ProducerPerformance", raw, java, None, "events/s"),
        ratio("batched gRPC ingest vs raw confluent-kafka loop", grpc_rate, raw, None,
              "events/s", note="absolute target >= 50,000 events/s"),
    ]
    absolute = [{"name": "batched gRPC ingest", "value": round(grpc_rate), "target": 50_000,
                 "unit": "events/s", "pass": grpc_rate >= 50_000}]
    from bench.common import percentiles

    latency = {f"ingest Publish ({1000} events, acks=all)": {
        k: round(v, 2) for k, v in percentiles(latencies).items()}}
    path = write("ingest", {"figures": figures, "ratios": ratios, "absolute": absolute,
                            "latency_ms": latency})
    for r in ratios:
        print(f"{r['name']}: {r['value']:.0f} / {r['baseline']:.0f} = {r['ratio']:.2f}"  # noqa: T201
              f" (target {r['target']})")
    print(f"batched gRPC ingest: {grpc_rate:.0f} events/s (target 50000) -> {path}")  # noqa: T201
    return figures


if __name__ == "__main__":
    main()
