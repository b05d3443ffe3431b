from __future__ import annotations

import pytest

from monitor.metrics import records as rec
from monitor.metrics.lag import compute_lag
from monitor.metrics.summary import Prices, compute_samples, merge_range, pick_references

P = rec.Params(freshness_target_ms=1000.0)


def _pred(r: rec.Record, version: str, route: str, latency: float, *, error: str = "",
          cache: bool = False, score: float = 0.5) -> None:
    rec.apply_prediction(r, model_version=version, latency_ms=latency, error=error,
                         cache_hit=cache, route=route, score=score,
                         features={"amount": latency}, feature_age_ms=5.0, degraded=False,
                         cpu_ms=latency / 5)


def _one(samples: dict, metric: str, **labels: str) -> float:  # type: ignore[type-arg]
    for s in samples[metric]:
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no {metric} {labels}")


def test_partitions_merge_into_exact_rates_shares_and_costs() -> None:
    p0: rec.Record = {}
    p1: rec.Record = {}
    for i in range(90):
        _pred(p0 if i % 2 else p1, "v1", "primary", 10.0, cache=i < 30,
              error="UNAVAILABLE" if i < 9 else "")
    for _ in range(10):
        _pred(p1, "v2", "canary", 30.0)
    rec.apply_dead_letter(p0, topic="predictions.dlq", service="inference",
                          error_class="validation")
    entries = [("predictions", 10.0, rec.dehydrate(p0)), ("predictions", 10.0, rec.dehydrate(p1)),
               ("predictions", 1.0, rec.dehydrate(p1))]  # an expired window: excluded
    merged = merge_range(entries, since=5.0)
    s = compute_samples(merged, 60.0, Prices(cpu_hour=3.6, gpu_hour=7.2, model_device="gpu"),
                        model_compute_ms={"v1": 900.0})
    assert _one(s, "error_rate", model_version="v1") == pytest.approx(0.1)
    assert _one(s, "cache_hit_rate", model_version="v1") == pytest.approx(30 / 90)
    assert _one(s, "route_share", model_version="v2", route="canary") == pytest.approx(0.1)
    # CPU 90 x 2 ms = 180 ms at 3.6 per hour = 0.00018, Triton 900 ms on a GPU at 7.2 per
    # hour = 0.0018: 0.00198 for 90 -> 0.022 per 1k
    assert _one(s, "cost_per_1k_predictions", model_version="v1") == pytest.approx(0.022)
    assert _one(s, "inference_cpu_ms_per_prediction", model_version="v1") == pytest.approx(2.0)
    assert _one(s, "model_compute_ms_per_prediction", model_version="v1") == pytest.approx(10.0)
    assert _one(s, "latency_p95_ratio", model_version="v2") == pytest.approx(3.0, rel=0.03)


def test_dead_letters_by_topic_service_and_reason() -> None:
    r: rec.Record = {}
    for cls in ("decode", "decode", "validation"):
        rec.apply_dead_letter(r, topic="user_events.dlq", service="ingest", error_class=cls)
    rec.apply_dead_letter(r, topic="documents.dlq", service="embedder", error_class="too_long")
    e: rec.Record = {}
    for _ in range(3):
        rec.apply_embedding(e, P, model_version="m1", doc_to_searchable_ms=500.0, model_ms=20.0,
                            chunk_count=1)
    s = compute_samples({"dlq": r, "embeddings_written": e}, 10.0, Prices())
    assert _one(s, "dlq_count", topic="user_events.dlq", error_class="decode") == 2
    assert _one(s, "dlq_rate", topic="user_events.dlq", error_class="validation") == 0.1
    assert _one(s, "error_rate", service="embedder") == pytest.approx(0.25)
    assert _one(s, "doc_to_searchable_within_target") == 1.0


def test_freshness_quality_and_unmatched_labels() -> None:
    f: rec.Record = {}
    for fresh in (100.0, 200.0, 5000.0, 300.0):
        rec.apply_feature_update(f, P, arrival_ms=10_000.0, max_event_ms=10_000.0 - fresh,
                                 window_end_ms=9_000.0, feature_view="user_activity_5m")
    lab: rec.Record = {}
    for score, y in ((0.9, 1.0), (0.8, 0.0), (0.2, 0.0), (0.1, 1.0)):
        rec.apply_label(lab, P, prediction=(score, "v1"), label=y)
    rec.apply_label(lab, P, prediction=None, label=1.0)
    s = compute_samples({"feature_updates": f, "labels": lab}, 60.0, Prices())
    assert _one(s, "feature_freshness_within_target") == 0.75
    assert _one(s, "accuracy", model_version="v1") == 0.5
    assert _one(s, "auc", model_version="v1") == pytest.approx(0.5)
    assert _one(s, "labels_unmatched_rate") == pytest.approx(0.2)


def test_reference_is_first_closed_window_with_enough_predictions() -> None:
    w1: rec.Record = {}
    w2: rec.Record = {}
    w3: rec.Record = {}
    for _ in range(5):
        _pred(w1, "v1", "primary", 1.0)
    for _ in range(20):
        _pred(w2, "v1", "primary", 2.0)
        _pred(w3, "v1", "primary", 3.0)
    found = pick_references([(20.0, 30.0, w3), (0.0, 10.0, w1), (10.0, 20.0, w2)], now=25.0,
                            min_count=10, have=())
    assert list(found) == ["v1"] and found["v1"][0] == 10.0
    assert pick_references([(10.0, 20.0, w2)], now=25.0, min_count=10, have=["v1"]) == {}


def test_lag_is_end_minus_committed_and_skips_uncommitted() -> None:
    lags = compute_lag({"g": {("t", 0): 10, ("t", 1): -1001}}, {("t", 0): 110, ("t", 1): 5})
    assert [(x.partition, x.lag) for x in lags] == [(0, 100)]
