"""Export the monitor's computed metrics through the OpenTelemetry SDK
(Prometheus scrape endpoint always, OTLP when OTEL_EXPORTER_OTLP_* is set):
one observable gauge per metric, labelled like the sample, read from the
latest summary at collection time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from monitor.state import Runtime

# metric -> (unit, description)
GAUGES: dict[str, tuple[str, str]] = {
    "latency_p50_ms": ("ms", "request latency p50 per service/model version"),
    "latency_p95_ms": ("ms", "request latency p95 per service/model version"),
    "latency_p99_ms": ("ms", "request latency p99 per service/model version"),
    "latency_p95_ratio": ("1", "canary p95 / primary p95"),
    "error_rate": ("1", "failed share per service/model version"),
    "dlq_rate": ("1/s", "dead letters per second by topic/service/reason"),
    "dlq_count": ("1", "dead letters in the summary range by topic/service/reason"),
    "consumer_lag": ("1", "records behind per group/topic/partition"),
    "feature_freshness_p50_ms": ("ms", "event time -> feature emitted, p50"),
    "feature_freshness_p99_ms": ("ms", "event time -> feature emitted, p99"),
    "feature_freshness_within_target": ("1", "share of feature updates within target"),
    "doc_to_searchable_p99_ms": ("ms", "document -> searchable p99 per model version"),
    "doc_to_searchable_all_p99_ms": ("ms", "document -> searchable p99"),
    "doc_to_searchable_within_target": ("1", "share of documents searchable within target"),
    "psi": ("1", "population stability index vs the reference window"),
    "accuracy": ("1", "accuracy of labelled predictions"),
    "auc": ("1", "ROC AUC of labelled predictions"),
    "cost_per_1k_predictions": ("1", "cost of 1,000 predictions per model version: the "
                                "inference service's CPU time + the model's Triton compute"),
    "cost_per_1k_predictions_vs_baseline": ("1", "cost per prediction / the version's own "
                                            "baseline"),
    "cost_per_1k_predictions_ratio": ("1", "a non-primary version's cost per prediction / the "
                                     "primary's"),
    "inference_cpu_ms_per_prediction": ("ms", "inference service CPU time per prediction"),
    "model_compute_ms_per_prediction": ("ms", "the scoring model's Triton compute per "
                                        "prediction"),
    "cost_per_1k_documents": ("1", "cost of embedding 1,000 documents"),
    "cache_hit_rate": ("1", "prediction cache hit share"),
    "route_share": ("1", "traffic share per model version/route"),
    "events_rate": ("1/s", "user events per second"),
}


def _observer(runtime: Runtime, metric: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        samples: dict[str, list[dict[str, Any]]] = runtime.summary.get("samples", {})
        return [Observation(s["value"], s["labels"]) for s in samples.get(metric, [])]
    return observe


def install(meter: Meter, runtime: Runtime) -> None:
    for metric, (_unit, description) in GAUGES.items():
        meter.create_observable_gauge(f"mlmesh_monitor_{metric}", [_observer(runtime, metric)],
                                      description=description)

    def alerts(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(1, {"rule": a["rule"], "severity": a["severity"], **a["labels"]})
                for a in runtime.summary.get("alerts", [])]

    def processed(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"kind": k}) for k, n in dict(runtime.processed).items()]

    meter.create_observable_gauge("mlmesh_monitor_alert_firing", [alerts],
                                  description="1 per firing alert (rule, severity, labels)")
    meter.create_observable_counter("mlmesh_monitor_records_processed", [processed],
                                    description="records folded into the tables, by kind")
