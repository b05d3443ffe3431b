"""Every metric the monitor computes from a known synthetic stream equals the
value computed independently here (numpy / scikit-learn on the raw values)."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlmesh.testing.monitor import sample
from monitor import synthetic as sy

PRICE_CPU, PRICE_GPU = 0.10, 3.0


def _q(values: list[float], q: float) -> float:
    return float(np.quantile(values, q, method="lower"))


def _value(summary: dict[str, Any], metric: str, **labels: str) -> float:
    s = sample(summary, metric, **labels)
    assert s is not None, f"missing {metric} {labels}"
    return float(s["value"])


def test_each_metric_matches_an_independent_computation(monitor_factory: Any) -> None:
    mon = monitor_factory(env={
        "MLMESH_MONITOR_WINDOW_S": "5", "MLMESH_MONITOR_SUMMARY_RANGE_S": "3600",
        "MLMESH_MONITOR_PRICE_CPU_HOUR": str(PRICE_CPU),
        "MLMESH_MONITOR_PRICE_GPU_HOUR": str(PRICE_GPU),
        "MLMESH_MONITOR_EMBEDDER_DEVICE": "gpu", "MLMESH_MONITOR_REFERENCE_MIN_COUNT": "100000"})
    rng = random.Random(42)
    prod = sy.producer(mon.bootstrap)
    t = mon.prefix
    now = int(time.time() * 1000)

    # ---- predictions: v1 primary, v2 canary, errors, cache hits, duplicates ----------
    preds: list[sy.Out] = []
    lat: dict[str, list[float]] = {"v1": [], "v2": []}
    cpu: dict[str, list[float]] = {"v1": [], "v2": []}
    errors = {"v1": 0, "v2": 0}
    cache = {"v1": 0, "v2": 0}
    last_score: dict[str, float] = {}
    for i in range(2000):
        version, route = ("v2", "canary") if i % 4 == 0 else ("v1", "primary")
        latency = rng.lognormvariate(3.0 if version == "v1" else 3.4, 0.5)
        err = "UNAVAILABLE" if rng.random() < 0.03 else ""
        hit = rng.random() < 0.2
        score = rng.random()
        user = f"u{i % 300}"
        cpu_ms = rng.uniform(0.2, 2.0)
        preds.append(sy.prediction(f"req-{i}", user, model_version=version, route=route,
                                   latency_ms=latency, score=score, error=err, cache_hit=hit,
                                   features=sy.features_for(rng), ts_ms=now, cpu_ms=cpu_ms))
        lat[version].append(latency)
        cpu[version].append(cpu_ms)
        errors[version] += bool(err)
        cache[version] += hit
        if not err:
            last_score[user] = score
    dups = preds[:50]  # an upstream producer retried 50 of them
    sy.produce(prod, t + "predictions", preds + dups)

    # ---- embeddings (document -> searchable, model time on a GPU) ------------------
    emb = [(rng.lognormvariate(8, 1.0), rng.uniform(5, 40)) for _ in range(400)]
    sy.produce(prod, t + "embeddings_written",
               [sy.embedding(f"doc-{i}", f"u{i}", doc_to_searchable_ms=d, model_ms=m, ts_ms=now)
                for i, (d, m) in enumerate(emb)])
    # ---- feature updates (event time -> online) --------------------------------------
    fresh = [rng.uniform(1_000, 400_000) for _ in range(600)]
    sy.produce(prod, t + "feature_updates",
               [sy.feature_update(f"u{i}", freshness_ms=f, ts_ms=now) for i, f in enumerate(fresh)])
    # ---- dead letters ------------------------------------------------------------------
    dlq = ([sy.dead_letter("user_events", error_class="decode", service="ingest")] * 30
           + [sy.dead_letter("user_events", error_class="validation", service="ingest")] * 12)
    sy.produce(prod, t + "user_events.dlq", dlq)
    sy.produce(prod, t + "documents.dlq",
               [sy.dead_letter("documents", error_class="too_long", service="embedder")] * 5)

    mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= 2050, 90, "predictions")
    # ---- delayed labels, joined by user to the latest prediction ---------------------
    users = sorted(last_score)
    truth = {u: 1.0 if rng.random() < min(0.95, last_score[u] * 0.9 + 0.05) else 0.0
             for u in users}
    sy.produce(prod, t + "labels", [sy.label(f"lab-{u}", u, truth[u]) for u in users]
               + [sy.label("lab-nobody", "no-such-user", 1.0)])
    s = mon.wait_for(lambda s: s["processed"].get("labels", 0) >= len(users) + 1
                     and s["processed"].get("embeddings_written", 0) >= 400
                     and s["processed"].get("feature_updates", 0) >= 600
                     and s["processed"].get("dlq", 0) >= 47, 90, "all topics")
    time.sleep(1.5)  # one more evaluation after the last batch
    s = mon.summary()

    assert s["duplicates"]["predictions"] == 50
    for v in ("v1", "v2"):
        n = len(lat[v])
        assert _value(s, "predictions_rate_total", model_version=v) == n
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            got = _value(s, f"latency_{name}_ms", service="inference", model_version=v)
            assert got == pytest.approx(_q(lat[v], q), rel=0.0101), (v, name)
        assert _value(s, "error_rate", service="inference", model_version=v) == \
            pytest.approx(errors[v] / n)
        assert _value(s, "cache_hit_rate", model_version=v) == pytest.approx(cache[v] / n)
        # no Triton URL here: the service's CPU time alone
        assert _value(s, "cost_per_1k_predictions", model_version=v) == pytest.approx(
            sum(cpu[v]) / 3.6e6 * PRICE_CPU / n * 1000, rel=1e-9)
    assert _value(s, "route_share", model_version="v2", route="canary") == pytest.approx(500 / 2000)
    ratio = _q(lat["v2"], 0.95) / _q(lat["v1"], 0.95)
    assert _value(s, "latency_p95_ratio", model_version="v2") == pytest.approx(ratio, rel=0.021)

    d2s = [d for d, _ in emb]
    assert _value(s, "doc_to_searchable_all_p99_ms") == pytest.approx(_q(d2s, 0.99), rel=0.0101)
    assert _value(s, "doc_to_searchable_within_target") == pytest.approx(
        sum(d <= 300_000 for d in d2s) / 400)
    assert _value(s, "cost_per_1k_documents", model_version="minilm-v1") == pytest.approx(
        sum(m for _, m in emb) / 3.6e6 * PRICE_GPU / 400 * 1000, rel=1e-9)
    assert _value(s, "error_rate", service="embedder") == pytest.approx(5 / 405)

    assert _value(s, "feature_freshness_p99_ms") == pytest.approx(_q(fresh, 0.99), rel=0.0101)
    assert _value(s, "feature_freshness_within_target") == pytest.approx(
        sum(f <= 300_000 for f in fresh) / 600)

    assert _value(s, "dlq_count", topic="user_events.dlq", error_class="decode") == 30
    assert _value(s, "dlq_count", topic="user_events.dlq", error_class="validation") == 12
    assert _value(s, "dlq_count", topic="documents.dlq", service="embedder") == 5

    y = [truth[u] for u in users]
    scores = [last_score[u] for u in users]
    acc = sum((sc >= 0.5) == (yy >= 0.5) for sc, yy in zip(scores, y, strict=True)) / len(users)
    versions = {p for p in ("v1", "v2") if sample(s, "accuracy", model_version=p)}
    assert versions, "no quality samples"
    total = sum(sample(s, "accuracy", model_version=v)["count"] for v in versions)  # type: ignore[index]
    assert total == len(users)
    merged_acc = sum(_value(s, "accuracy", model_version=v)
                     * sample(s, "accuracy", model_version=v)["count"]  # type: ignore[index]
                     for v in versions) / total
    assert merged_acc == pytest.approx(acc)
    for v in versions:
        vu = [u for u in users if _version_of(preds, u) == v]
        if len({truth[u] for u in vu}) == 2:
            expected = roc_auc_score([truth[u] for u in vu], [last_score[u] for u in vu])
            assert _value(s, "auc", model_version=v) == pytest.approx(expected, abs=0.003)
    assert _value(s, "labels_unmatched_rate") == pytest.approx(1 / (len(users) + 1))


def _version_of(preds: list[sy.Out], user: str) -> str:
    from mlmesh.events.v1 import prediction_made_pb2

    version = ""
    for p in preds:
        if p.key == user:
            m = prediction_made_pb2.PredictionMade.FromString(p.value)
            if not m.error:
                version = m.model_version
    return version
