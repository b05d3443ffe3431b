"""mlmesh.common.metrics_fanin: the workers' Prometheus endpoints merged on one
port, each sample labelled with its worker, one family per name; a worker that
does not answer is reported down and left out, the others still served."""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from mlmesh.common.metrics_fanin import start_fanin, worker_metrics_port
from mlmesh.localstack.base import free_port


def _worker_endpoint(requests: int, latencies: list[float]) -> int:
    registry = CollectorRegistry()
    c = Counter("svc_requests", "requests served", ["code"], registry=registry)
    h = Histogram("svc_latency_ms", "latency", buckets=(1, 10), registry=registry)
    c.labels(code="OK").inc(requests)
    for v in latencies:
        h.observe(v)
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return port


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):  # parses: one family per name
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_worker_ports() -> None:
    assert worker_metrics_port(9464, 0, 1) == 9464  # one worker: unchanged
    assert [worker_metrics_port(9464, i, 3) for i in range(3)] == [9465, 9466, 9467]
    assert worker_metrics_port(0, 1, 3) == 0  # metrics off stays off


def test_fanin_merges_and_labels_every_worker() -> None:
    p0, p1 = _worker_endpoint(3, [0.5, 5.0]), _worker_endpoint(7, [50.0])
    dead = free_port()  # a worker that is not serving
    fanin = free_port()
    start_fanin(fanin, {0: p0, 1: p1, 2: dead})

    got = _scrape(fanin)

    assert got[("svc_requests_total", (("code", "OK"), ("worker", "0")))] == 3
    assert got[("svc_requests_total", (("code", "OK"), ("worker", "1")))] == 7
    assert got[("svc_latency_ms_count", (("worker", "0"),))] == 2
    assert got[("svc_latency_ms_bucket", (("le", "10.0"), ("worker", "0")))] == 2
    assert got[("svc_latency_ms_bucket", (("le", "10.0"), ("worker", "1")))] == 0
    assert got[("svc_latency_ms_sum", (("worker", "1"),))] == 50.0
    assert got[("mlmesh_worker_up", (("worker", "0"),))] == 1
    assert got[("mlmesh_worker_up", (("worker", "1"),))] == 1
    assert got[("mlmesh_worker_up", (("worker", "2"),))] == 0
    assert not [k for k in got if ("worker", "2") in k[1] and k[0] != "mlmesh_worker_up"]
