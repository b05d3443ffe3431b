"""From merged aggregate records to metric samples (what rules, OTel and the
dashboard read). Pure: the caller merges the table's records of the windows it
wants (see ``merge_range``) and passes lag and references in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.metrics.cost import cost_per_1k, prediction_cost_per_1k
from monitor.metrics.lag import PartitionLag
from monitor.metrics.psi import psi
from monitor.metrics.quality import Confusion, auc_from_hists
from monitor.metrics.records import Record, hydrate, merge
from monitor.metrics.rules import Sample
from monitor.metrics.sketch import LinearHist, QuantileSketch

SCORE_FEATURE = "__score__"
Samples = dict[str, list[Sample]]


@dataclass(frozen=True)
class Prices:
    cpu_hour: float = 0.048
    gpu_hour: float = 2.50
    embedder_device: str = "cpu"
    model_device: str = "cpu"  # what Triton runs the scoring model on

    @property
    def embedder_hour(self) -> float:
        return self.gpu_hour if self.embedder_device == "gpu" else self.cpu_hour

    @property
    def model_hour(self) -> float:
        return self.gpu_hour if self.model_device == "gpu" else self.cpu_hour


def merge_range(entries: Iterable[tuple[str, float, Mapping[str, Any]]], since: float,
                ) -> dict[str, Record]:
    """Merge raw records ``(kind, window_end, raw)`` whose window ends after
    ``since`` into one live record per kind."""
    out: dict[str, Record] = {}
    for kind, end, raw in entries:
        if end > since:
            merge(out.setdefault(kind, {}), hydrate(raw))
    return out


def _add(out: Samples, metric: str, labels: Mapping[str, str], value: float | None,
         count: int = 0) -> None:
    if value is None:
        return
    out.setdefault(metric, []).append(Sample(metric, dict(labels), float(value), int(count)))


def _percentiles(out: Samples, prefix: str, labels: Mapping[str, str],
                 sk: QuantileSketch | None) -> None:
    if sk is None or sk.count == 0:
        return
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        _add(out, f"{prefix}_{name}_ms", labels, sk.quantile(q), sk.count)


def compute_samples(merged: Mapping[str, Record], range_s: float, prices: Prices,
                    lags: Sequence[PartitionLag] = (),
                    references: Mapping[str, Record] | None = None,
                    model_compute_ms: Mapping[str, float] | None = None) -> Samples:
    """``model_compute_ms``: the scoring model's compute on Triton per version
    over the same range (:mod:`monitor.tritonstats`); None when not read."""
    out: Samples = {}
    _predictions(out, merged.get("predictions", {}), prices, references or {},
                 model_compute_ms)
    dlq_embedder = _dead_letters(out, merged.get("dlq", {}), range_s)
    _embeddings(out, merged.get("embeddings_written", {}), prices, dlq_embedder)
    _freshness(out, merged.get("feature_updates", {}))
    _quality(out, merged.get("labels", {}))
    ue = merged.get("user_events", {})
    _add(out, "events_rate", {"topic": "user_events"}, ue.get("n", 0) / range_s, ue.get("n", 0))
    _percentiles(out, "ingest_delay", {}, ue.get("ingest_sk"))
    for lag in lags:
        _add(out, "consumer_lag", {"group": lag.group, "topic": lag.topic,
                                   "partition": str(lag.partition)}, lag.lag, 1)
    return out


def _cost(out: Samples, version: str, v: Record, prices: Prices,
          model_compute_ms: Mapping[str, float] | None, ref: Record | None) -> float | None:
    n = int(v.get("n", 0))
    labels = {"model_version": version}
    cpu_ms = float(v.get("cpu_ms", 0.0))
    model_ms = None if model_compute_ms is None else model_compute_ms.get(version)
    _add(out, "inference_cpu_ms_per_prediction", labels, cpu_ms / n if n else None, n)
    if model_ms is not None:
        _add(out, "model_compute_ms_per_prediction", labels, model_ms / n if n else None, n)
    cost = prediction_cost_per_1k(cpu_ms, model_ms, n, prices.cpu_hour, prices.model_hour)
    _add(out, "cost_per_1k_predictions", labels, cost, n)
    base = float((ref or {}).get("cost_1k") or 0.0)
    if cost is not None and base > 0:
        _add(out, "cost_per_1k_predictions_vs_baseline", labels, cost / base, n)
    return cost


def _cost_ratios(out: Samples, versions: Mapping[str, Record], costs: Mapping[str, float],
                 primaries: Sequence[str]) -> None:
    """Each version that is not a primary against the busiest primary: a new
    version that costs more per prediction than the one it would replace."""
    served = [p for p in primaries if costs.get(p)]
    if not served:
        return
    base_version = max(served, key=lambda k: int(versions[k].get("n", 0)))
    for version, cost in costs.items():
        if version not in primaries:
            _add(out, "cost_per_1k_predictions_ratio", {"model_version": version,
                                                        "baseline_version": base_version},
                 cost / costs[base_version], int(versions[version].get("n", 0)))


def _predictions(out: Samples, rec: Record, prices: Prices, references: Mapping[str, Record],
                 model_compute_ms: Mapping[str, float] | None = None) -> None:
    versions: Mapping[str, Record] = rec.get("v", {})
    total = sum(int(v.get("n", 0)) for v in versions.values())
    primary_p95: dict[str, float] = {}
    costs: dict[str, float] = {}
    primaries: list[str] = []
    for version, v in versions.items():
        n = int(v.get("n", 0))
        labels = {"service": "inference", "model_version": version}
        lat: QuantileSketch | None = v.get("lat_sk")
        _percentiles(out, "latency", labels, lat)
        _add(out, "error_rate", labels, v.get("err", 0) / n if n else None, n)
        _add(out, "cache_hit_rate", {"model_version": version},
             v.get("cache", 0) / n if n else None, n)
        _add(out, "degraded_rate", {"model_version": version},
             v.get("degraded", 0) / n if n else None, n)
        _add(out, "predictions_rate_total", {"model_version": version}, n, n)
        cost = _cost(out, version, v, prices, model_compute_ms, references.get(version))
        if cost:
            costs[version] = cost
        for route, c in v.get("routes", {}).items():
            _add(out, "route_share", {"model_version": version, "route": route},
                 c / total if total else None, int(c))
        _percentiles(out, "feature_age", {"model_version": version}, v.get("age_sk"))
        routes = v.get("routes", {})
        if routes and routes.get("primary", 0) >= max(routes.values()):
            primaries.append(version)
            if lat is not None and lat.count:
                primary_p95[version] = lat.quantile(0.95) or 0.0
        _drift(out, version, v, references.get(version))
    _cost_ratios(out, versions, costs, primaries)
    if not primary_p95:
        return
    base_version = max(primary_p95, key=lambda k: int(versions[k].get("n", 0)))
    base = primary_p95[base_version]
    for version, v in versions.items():
        lat = v.get("lat_sk")
        if version in primary_p95 or lat is None or not lat.count or base <= 0:
            continue
        _add(out, "latency_p95_ratio", {"model_version": version,
                                        "baseline_version": base_version},
             (lat.quantile(0.95) or 0.0) / base, lat.count)


def _drift(out: Samples, version: str, cur: Record, ref: Record | None) -> None:
    if not ref:
        return
    pairs: list[tuple[str, QuantileSketch | None, QuantileSketch | None]] = [
        (SCORE_FEATURE, ref.get("score_sk"), cur.get("score_sk"))]
    ref_f: Mapping[str, Any] = ref.get("f", {})
    cur_f: Mapping[str, Any] = cur.get("f", {})
    pairs += [(k[:-3], ref_f.get(k), cur_f.get(k)) for k in sorted(ref_f)]
    for name, r, c in pairs:
        if r is None or c is None or not r.count or not c.count:
            continue
        _add(out, "psi", {"model_version": version, "feature": name}, psi(r, c), c.count)


def _dead_letters(out: Samples, rec: Record, range_s: float) -> int:
    """Per topic/service/reason; returns the embedder's count (its error rate)."""
    embedder = 0
    for topic, t in rec.get("t", {}).items():
        for key, c in t.get("r", {}).items():
            service, _, error_class = key.partition("|")
            labels = {"topic": topic, "service": service, "error_class": error_class}
            _add(out, "dlq_count", labels, c, int(c))
            _add(out, "dlq_rate", labels, c / range_s, int(c))
            if service == "embedder":
                embedder += int(c)
    return embedder


def _embeddings(out: Samples, rec: Record, prices: Prices, failed: int) -> None:
    versions: Mapping[str, Record] = rec.get("v", {})
    total_n = sum(int(v.get("n", 0)) for v in versions.values())
    all_ok = 0
    merged = QuantileSketch()
    for version, v in versions.items():
        n = int(v.get("n", 0))
        labels = {"service": "embedder", "model_version": version}
        _percentiles(out, "doc_to_searchable", labels, v.get("lat_sk"))
        _add(out, "cost_per_1k_documents", {"model_version": version},
             cost_per_1k(float(v.get("model_ms", 0.0)), n, prices.embedder_hour), n)
        all_ok += int(v.get("ok", 0))
        if v.get("lat_sk") is not None:
            merged.merge(v["lat_sk"])
    if total_n or failed:
        _add(out, "error_rate", {"service": "embedder", "model_version": "all"},
             failed / (total_n + failed), total_n + failed)
    if total_n:
        _add(out, "doc_to_searchable_within_target", {}, all_ok / total_n, total_n)
        _add(out, "doc_to_searchable_all_p99_ms", {}, merged.quantile(0.99), total_n)


def _freshness(out: Samples, rec: Record) -> None:
    n = int(rec.get("n", 0))
    if not n:
        return
    _percentiles(out, "feature_freshness", {}, rec.get("fresh_sk"))
    _percentiles(out, "window_emit_delay", {}, rec.get("emit_sk"))
    _add(out, "feature_freshness_within_target", {}, rec.get("ok", 0) / n, n)


def _quality(out: Samples, rec: Record) -> None:
    n = int(rec.get("n", 0))
    if n:
        _add(out, "labels_unmatched_rate", {}, rec.get("unmatched", 0) / n, n)
    for version, v in rec.get("v", {}).items():
        conf = Confusion(*(int(v.get(k, 0)) for k in ("tp", "fp", "tn", "fn")))
        labels = {"model_version": version}
        _add(out, "accuracy", labels, conf.accuracy, conf.total)
        pos: LinearHist = v.get("pos_lh") or LinearHist()
        neg: LinearHist = v.get("neg_lh") or LinearHist()
        _add(out, "auc", labels, auc_from_hists(pos, neg), conf.total)


def pick_references(windows: Iterable[tuple[float, float, Mapping[str, Any]]], now: float,
                    min_count: int, have: Iterable[str]) -> dict[str, tuple[float, Record]]:
    """For model versions without a reference, the earliest CLOSED window
    (end <= now) holding at least ``min_count`` of their predictions.
    ``windows``: (start, end, merged raw predictions record of that window)."""
    known = set(have)
    found: dict[str, tuple[float, Record]] = {}
    for start, end, raw in sorted(windows, key=lambda w: w[0]):
        if end > now:
            continue
        for version, v in raw.get("v", {}).items():
            if version in known or version in found:
                continue
            if int(v.get("n", 0)) - int(v.get("err", 0)) >= min_count:
                found[version] = (start, {"score_sk": v.get("score_sk"), "f": v.get("f", {})})
    return found


def pick_cost_baselines(windows: Iterable[tuple[float, float, Mapping[str, Any]]], now: float,
                        min_count: int, need: Iterable[str], prices: Prices,
                        model_ms: Callable[[str, float, float], float | None],
                        ) -> dict[str, tuple[float, float]]:
    """For each version in ``need``, its cost per 1,000 predictions in the
    earliest CLOSED window holding ``min_count`` of them for which
    ``model_ms(version, start, end)`` knows the model's compute (None: Triton
    was not read all along that window). -> version: (window start, cost)."""
    wanted = set(need)
    found: dict[str, tuple[float, float]] = {}
    for start, end, raw in sorted(windows, key=lambda w: w[0]):
        if end > now:
            continue
        for version in sorted(wanted & set(raw.get("v", {}))):
            v = raw["v"][version]
            n = int(v.get("n", 0))
            compute = model_ms(version, start, end) if n >= min_count else None
            if compute is None:
                continue
            cost = prediction_cost_per_1k(float(v.get("cpu_ms", 0.0)), compute, n,
                                          prices.cpu_hour, prices.model_hour)
            if cost:
                found[version] = (start, cost)
                wanted.discard(version)
    return found
