"""OpenTelemetry set-up from the standard ``OTEL_*`` variables.

Traces and metrics go over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the
per-signal variant) is set; metrics are always also exposed on a Prometheus scrape
endpoint when a port is given. Providers are process-global in OpenTelemetry, so
the first call installs them and later calls (several services in one test
process) reuse them.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)
_lock = threading.Lock()
_installed: dict[str, object] = {}
_prom_ports: set[int] = set()


@dataclass
class Telemetry:
    tracer: trace.Tracer
    meter: metrics.Meter
    metrics_port: int

    def shutdown(self) -> None:
        provider = trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush(5000)
        mprov = metrics.get_meter_provider()
        mflush = getattr(mprov, "force_flush", None)
        if mflush is not None:
            mflush(5000)


def _bind_addr() -> str:
    return "0.0.0.0" if os.environ.get("MLMESH_BIND_ALL") == "1" else "127.0.0.1"


def _otlp_enabled(signal: str) -> bool:
    return bool(os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def init_telemetry(service: str, metrics_port: int = 0) -> Telemetry:
    """Install tracer/meter providers once per process; start the Prometheus
    endpoint on ``metrics_port`` (0 = none). OTEL_SERVICE_NAME wins over
    ``service`` when set, as the OTel spec says."""
    with _lock:
        if "done" not in _installed:
            resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
            tracer_provider = TracerProvider(resource=resource)
            if _otlp_enabled("TRACES"):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(tracer_provider)
            readers: list[MetricReader] = []
            from opentelemetry.exporter.prometheus import PrometheusMetricReader

            readers.append(PrometheusMetricReader())
            if _otlp_enabled("METRICS"):
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                    OTLPMetricExporter,
                )

                readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
            metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
            _installed["done"] = True
        if metrics_port and metrics_port not in _prom_ports:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr=_bind_addr())
            _prom_ports.add(metrics_port)
            log.info("prometheus metrics endpoint", extra={"port": metrics_port})
    return Telemetry(tracer=trace.get_tracer(f"mlmesh.{service}"),
                     meter=metrics.get_meter(f"mlmesh.{service}"), metrics_port=metrics_port)


def init_worker_telemetry(service: str, metrics_port: int, worker: int,
                          workers: int) -> Telemetry:
    """:func:`init_telemetry` for worker ``worker`` of ``workers`` processes
    (mlmesh.common.workers): its own endpoint on
    :func:`~mlmesh.common.metrics_fanin.worker_metrics_port`, and on worker 0
    of several, every worker's metrics merged on ``metrics_port`` (the one
    port a pod is scraped on)."""
    from mlmesh.common.metrics_fanin import start_fanin, worker_metrics_port

    tel = init_telemetry(service, worker_metrics_port(metrics_port, worker, workers))
    if metrics_port and workers > 1 and worker == 0:
        with _lock:  # once per process, like the endpoints above
            if metrics_port not in _prom_ports:
                start_fanin(metrics_port, {i: worker_metrics_port(metrics_port, i, workers)
                                           for i in range(workers)}, addr=_bind_addr())
                _prom_ports.add(metrics_port)
    return tel
