"""The service's OpenTelemetry instruments (exported on the Prometheus port)."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import metrics


@dataclass
class Instruments:
    requests: metrics.Counter
    latency_ms: metrics.Histogram
    stage_ms: metrics.Histogram
    cache_lookups: metrics.Counter
    degraded: metrics.Counter
    rejected: metrics.Counter
    emit_failures: metrics.Counter
    rollbacks: metrics.Counter

    @classmethod
    def create(cls, meter: metrics.Meter) -> Instruments:
        return cls(
            requests=meter.create_counter("inference_requests", description="RPCs by outcome"),
            latency_ms=meter.create_histogram("inference_latency_ms", unit="ms",
                                              description="RPC latency"),
            stage_ms=meter.create_histogram("inference_stage_ms", unit="ms",
                                            description="latency per serving stage"),
            cache_lookups=meter.create_counter(
                "inference_cache_lookups", description="cache lookups by cache and hit "
                "(hit rate = hit=true / all)"),
            degraded=meter.create_counter("inference_degraded", description="degraded answers"),
            rejected=meter.create_counter("inference_rejected",
                                          description="auth / limit rejections"),
            emit_failures=meter.create_counter("inference_prediction_emit_failures",
                                               description="PredictionMade delivery failures"),
            rollbacks=meter.create_counter("inference_rollbacks",
                                           description="automatic rollbacks on alerts"),
        )

    def cache_hook(self, cache: str):  # type: ignore[no-untyped-def]
        def record(hit: bool) -> None:
            self.cache_lookups.add(1, {"cache": cache, "hit": str(hit).lower()})

        return record
