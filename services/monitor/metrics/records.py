"""Aggregate records: the values of the monitor's windowed faust table.

One record per (source topic, source partition, window). A record is a nested
dict; keys ending in ``_sk`` hold a :class:`QuantileSketch`, keys ending in
``_lh`` a :class:`LinearHist`, ``wm`` the highest source offset already folded
in (replays at or below it are skipped: the offset and the aggregate live in
ONE changelog record, so they are restored together), every other number is a
sum. That convention lets :func:`merge` combine partitions and windows
generically, and :func:`hydrate` / :func:`dehydrate` convert between the JSON
form stored in the table and the live form updated in a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.metrics.quality import Confusion
from monitor.metrics.sketch import LinearHist, QuantileSketch

Record = dict[str, Any]

LATENCY_ALPHA = 0.01   # latency / freshness percentiles: 1% relative error
DRIFT_ALPHA = 0.02     # feature and score distributions for PSI
SCORE_BINS = 1000      # AUC histograms


@dataclass(frozen=True)
class Params:
    """What the apply functions need from the settings."""

    freshness_target_ms: float = 300_000.0
    accuracy_threshold: float = 0.5
    embedder_device: str = "cpu"


def topic_kind(topic: str, prefix: str = "") -> str:
    name = topic[len(prefix):] if prefix and topic.startswith(prefix) else topic
    return "dlq" if name.endswith(".dlq") else name


def hydrate(raw: Mapping[str, Any]) -> Record:
    out: Record = {}
    for k, v in raw.items():
        if k.endswith("_sk"):
            out[k] = QuantileSketch.from_dict(v)
        elif k.endswith("_lh"):
            out[k] = LinearHist.from_dict(v, SCORE_BINS)
        elif isinstance(v, dict):
            out[k] = hydrate(v)
        else:
            out[k] = v
    return out


def dehydrate(live: Mapping[str, Any]) -> Record:
    out: Record = {}
    for k, v in live.items():
        if isinstance(v, (QuantileSketch, LinearHist)):
            out[k] = v.to_dict()
        elif isinstance(v, dict):
            out[k] = dehydrate(v)
        else:
            out[k] = v
    return out


def merge(into: Record, other: Mapping[str, Any]) -> Record:
    """Fold ``other`` (live form) into ``into`` (live form, modified)."""
    for k, v in other.items():
        if k == "wm":
            into[k] = max(int(into.get(k, -1)), int(v))
        elif isinstance(v, QuantileSketch):
            into.setdefault(k, QuantileSketch(v.alpha)).merge(v)
        elif isinstance(v, LinearHist):
            into.setdefault(k, LinearHist(v.bins, v.lo, v.hi)).merge(v)
        elif isinstance(v, dict):
            merge(into.setdefault(k, {}), v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            into[k] = into.get(k, 0) + v
        else:
            into[k] = v
    return into


def _sk(rec: Record, key: str, alpha: float = LATENCY_ALPHA) -> QuantileSketch:
    sk = rec.get(key)
    if sk is None:
        sk = rec[key] = QuantileSketch(alpha)
    return sk  # type: ignore[no-any-return]


def _lh(rec: Record, key: str) -> LinearHist:
    h = rec.get(key)
    if h is None:
        h = rec[key] = LinearHist(SCORE_BINS)
    return h  # type: ignore[no-any-return]


def _inc(d: Record, key: str, by: float = 1) -> None:
    d[key] = d.get(key, 0) + by


def _version(rec: Record, version: str) -> Record:
    v: Record = rec.setdefault("v", {}).setdefault(version or "unknown", {})
    return v


# ---- per-topic apply functions (one decoded message each) ---------------------
def apply_prediction(rec: Record, *, model_version: str, latency_ms: float, error: str,
                     cache_hit: bool, route: str, score: float, features: Mapping[str, float],
                     feature_age_ms: float, degraded: bool, cpu_ms: float = 0.0) -> None:
    v = _version(rec, model_version)
    _inc(v, "n")
    v["lat_ms"] = v.get("lat_ms", 0.0) + latency_ms
    v["cpu_ms"] = v.get("cpu_ms", 0.0) + cpu_ms
    _sk(v, "lat_sk").add(latency_ms)
    routes: Record = v.setdefault("routes", {})
    _inc(routes, route or "primary")
    if cache_hit:
        _inc(v, "cache")
    if degraded:
        _inc(v, "degraded")
    if error:
        _inc(v, "err")
        return  # a failed call has no meaningful score or features
    _sk(v, "score_sk", DRIFT_ALPHA).add(score)
    _sk(v, "age_sk").add(feature_age_ms)
    feats: Record = v.setdefault("f", {})
    for name, value in features.items():
        _sk(feats, f"{name}_sk", DRIFT_ALPHA).add(value)


def apply_embedding(rec: Record, p: Params, *, model_version: str, doc_to_searchable_ms: float,
                    model_ms: float, chunk_count: int) -> None:
    v = _version(rec, model_version)
    _inc(v, "n")
    _inc(v, "chunks", chunk_count)
    v["model_ms"] = v.get("model_ms", 0.0) + model_ms
    _sk(v, "lat_sk").add(doc_to_searchable_ms)
    if doc_to_searchable_ms <= p.freshness_target_ms:
        _inc(v, "ok")


def apply_feature_update(rec: Record, p: Params, *, arrival_ms: float, max_event_ms: float,
                         window_end_ms: float, feature_view: str) -> None:
    _inc(rec, "n")
    fresh = arrival_ms - max_event_ms
    _sk(rec, "fresh_sk").add(fresh)
    if window_end_ms <= arrival_ms:  # a closed window (a tile delta is emitted inside its tile)
        _sk(rec, "emit_sk").add(arrival_ms - window_end_ms)
    if fresh <= p.freshness_target_ms:
        _inc(rec, "ok")
    _inc(rec.setdefault("views", {}), feature_view or "unknown")


def apply_dead_letter(rec: Record, *, topic: str, service: str, error_class: str) -> None:
    t: Record = rec.setdefault("t", {}).setdefault(topic, {})
    _inc(t, "n")
    _inc(t.setdefault("r", {}), f"{service or 'unknown'}|{error_class or 'unknown'}")


def apply_label(rec: Record, p: Params, *, prediction: tuple[float, str] | None,
                label: float) -> None:
    _inc(rec, "n")
    if prediction is None:
        _inc(rec, "unmatched")
        return
    score, version = prediction
    v = _version(rec, version)
    conf = Confusion()
    conf.add(score, label, p.accuracy_threshold)
    for k in ("tp", "fp", "tn", "fn"):
        if getattr(conf, k):
            _inc(v, k)
    _lh(v, "pos_lh" if label >= 0.5 else "neg_lh").add(score)


def apply_user_event(rec: Record, *, event_ms: float, ingest_ms: float) -> None:
    _inc(rec, "n")
    if ingest_ms > 0 and event_ms > 0:
        _sk(rec, "ingest_sk").add(ingest_ms - event_ms)
