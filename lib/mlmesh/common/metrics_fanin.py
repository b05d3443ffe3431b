"""One Prometheus scrape port for a service's worker processes.

A service running ``workers > 1`` processes (mlmesh.common.workers) has one
OpenTelemetry meter per process, each with its own Prometheus endpoint. A pod
is scraped on one port (``prometheus.io/port``), so worker 0 also serves the
*fan-in*: on ``metrics_port`` it reads every worker's endpoint (itself
included) over loopback at scrape time and answers with all their samples,
each labelled ``worker="<index>"``, one family per metric name (the text format
allows a name once). ``mlmesh_worker_up{worker}`` says which workers answered;
a worker that did not is left out of that scrape, never guessed.

Ports: one worker serves on ``metrics_port`` itself, as before; with N workers,
worker i serves its own endpoint on ``metrics_port + 1 + i`` and worker 0 the
fan-in on ``metrics_port``.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

log = logging.getLogger(__name__)
WORKER_LABEL = "worker"


def worker_metrics_port(base: int, worker: int, workers: int) -> int:
    """Where worker ``worker`` of ``workers`` serves its own metrics (0: none)."""
    if not base:
        return 0
    return base if workers <= 1 else base + 1 + worker


class FanInCollector(Collector):
    """Every worker's samples, merged per family and labelled by worker."""

    def __init__(self, ports: Mapping[int, int], timeout_s: float = 5.0) -> None:
        self.ports = dict(ports)
        self.timeout_s = timeout_s

    def _scrape(self, port: int) -> str:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
            return str(resp.read().decode("utf-8"))

    def _families(self, port: int) -> list[Metric]:
        return list(text_string_to_metric_families(self._scrape(port)))

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        up = GaugeMetricFamily("mlmesh_worker_up", "1 if the worker's metrics answered "
                               "this scrape, else 0", labels=[WORKER_LABEL])
        ordered = sorted(self.ports.items())
        # all workers at once: a busy one costs the scrape one timeout, not one each
        with ThreadPoolExecutor(max_workers=len(ordered) or 1) as pool:
            futures = [(w, p, pool.submit(self._families, p)) for w, p in ordered]
        for worker, port, future in futures:
            try:
                families = future.result()
            except (OSError, ValueError) as exc:
                log.warning("worker metrics unavailable",
                            extra={"worker": worker, "port": port, "error": str(exc)[:200]})
                up.add_metric([str(worker)], 0.0)
                continue
            up.add_metric([str(worker)], 1.0)
            for fam in families:
                out = merged.get(fam.name)
                if out is None:
                    out = merged[fam.name] = Metric(fam.name, fam.documentation, fam.type)
                out.samples.extend(
                    Sample(s.name, {**s.labels, WORKER_LABEL: str(worker)}, s.value,
                           s.timestamp, s.exemplar) for s in fam.samples)
        yield from merged.values()
        yield up


def start_fanin(port: int, worker_ports: Mapping[int, int], addr: str = "127.0.0.1") -> None:
    """Serve the merged metrics of ``worker_ports`` ({index: port}) on ``port``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FanInCollector(worker_ports))
    start_http_server(port, addr=addr, registry=registry)
    log.info("prometheus fan-in endpoint", extra={"port": port, "workers": len(worker_ports)})
