"""The periodic side of the monitor: merge table windows, pin drift
references, compute samples, evaluate alert rules and publish the summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from mlmesh.events.v1 import alert_pb2
from monitor.metrics import records as rec
from monitor.metrics.rules import Sample, Transition
from monitor.metrics.summary import (
    Prices,
    Samples,
    compute_samples,
    pick_cost_baselines,
    pick_references,
)
from monitor.state import Monitor
from monitor.tritonstats import TritonCompute

log = logging.getLogger(__name__)

SEVERITY = {"info": alert_pb2.SEVERITY_INFO, "warning": alert_pb2.SEVERITY_WARNING,
            "critical": alert_pb2.SEVERITY_CRITICAL}
HEADLINE_METRICS = ("latency_p95_ms", "error_rate", "consumer_lag", "feature_freshness_p99_ms",
                    "doc_to_searchable_all_p99_ms", "psi", "auc", "accuracy",
                    "cost_per_1k_predictions", "cost_per_1k_predictions_vs_baseline",
                    "cost_per_1k_documents", "cache_hit_rate")


def alert_proto(t: Transition, now: float) -> alert_pb2.Alert:
    verb = "resolved" if t.resolved else "firing"
    labels = ", ".join(f"{k}={v}" for k, v in sorted(t.state.labels.items()))
    msg = (f"{t.rule.name} {verb}: {t.rule.metric}={t.value:.4g} "
           f"{t.rule.op} {t.rule.threshold:g} over {t.rule.window_s:g}s [{labels}]")
    a = alert_pb2.Alert(alert_id=t.state.alert_id, rule=t.rule.name,
                        severity=SEVERITY[t.rule.severity], metric=t.rule.metric,
                        value=t.value, threshold=t.rule.threshold, message=msg,
                        resolved=t.resolved)
    a.labels.update(t.state.labels)
    a.raised_at.FromMilliseconds(int(now * 1000))
    return a


def _sample_json(s: Sample) -> dict[str, Any]:
    return {"labels": dict(s.labels), "value": s.value, "count": s.count}


class Evaluator:
    def __init__(self, mon: Monitor, compute: TritonCompute | None = None) -> None:
        self.mon = mon
        self.compute = compute  # None: Triton's statistics are not read
        s = mon.settings
        self.prices = Prices(s.price_cpu_hour, s.price_gpu_hour, s.embedder_device,
                             s.model_device)
        # (kind, start, end) -> merged live record of all partitions of that window
        self._windows: dict[tuple[str, float, float], rec.Record] = {}
        self._refs: dict[str, rec.Record] = {}
        self._restored = False

    # ---- windows -----------------------------------------------------------
    def refresh_windows(self) -> None:
        """Re-merge the windows written since the last tick (all on the first)."""
        dirty = self.mon.runtime.dirty
        first = not self._windows
        self.mon.runtime.dirty = set()
        groups: dict[tuple[str, float, float], list[dict[str, Any]]] = {}
        prefix = self.mon.settings.topic_prefix
        for topic, _part, start, end, raw in self.mon.agg_entries():
            key = (rec.topic_kind(topic, prefix), start, end)
            if first or key in dirty or key not in self._windows:
                groups.setdefault(key, []).append(raw)
            else:
                groups.setdefault(key, [])
        fresh: dict[tuple[str, float, float], rec.Record] = {}
        for key, raws in groups.items():
            if raws:
                live: rec.Record = {}
                for raw in raws:
                    rec.merge(live, rec.hydrate(raw))
                fresh[key] = live
            else:
                fresh[key] = self._windows[key]
        self._windows = fresh

    def merged_since(self, since: float) -> dict[str, rec.Record]:
        out: dict[str, rec.Record] = {}
        for (kind, _start, end), live in self._windows.items():
            if end > since:
                rec.merge(out.setdefault(kind, {}), live)
        return out

    # ---- references --------------------------------------------------------
    def update_references(self, now: float) -> None:
        refs = self.mon.refs
        if not self._refs:
            self._refs = {str(k): rec.hydrate(v["ref"]) for k, v in list(refs.data.items()) if v}
        preds = [(start, end, live) for (kind, start, end), live in self._windows.items()
                 if kind == "predictions"]
        found = pick_references(preds, now, self.mon.settings.reference_min_count, self._refs)
        for version, (start, ref) in found.items():
            raw = rec.dehydrate(ref)
            refs[version] = {"window_start": start, "ref": raw}
            self._refs[version] = rec.hydrate(raw)
            log.info("drift reference pinned", extra={"model_version": version,
                                                      "window_start": start})
        self.pin_cost_baselines(now)

    def pin_cost_baselines(self, now: float) -> None:
        """A version's cost baseline (kept in its reference; the metric
        ``cost_per_1k_predictions_vs_baseline`` divides by it): its cost in the
        earliest closed window with ``reference_min_count`` predictions whose
        Triton compute was read all along."""
        need = [v for v, ref in self._refs.items() if not ref.get("cost_1k")]
        if not need:
            return
        windows = [(start, end, live) for (kind, start, end), live in self._windows.items()
                   if kind == "predictions"]
        found = pick_cost_baselines(windows, now, self.mon.settings.reference_min_count, need,
                                    self.prices, self._model_ms)
        for version, (start, cost) in found.items():
            ref = self._refs[version]
            ref["cost_1k"] = cost
            self.mon.refs[version] = {**dict(self.mon.refs[version] or {}),
                                      "ref": rec.dehydrate(ref)}
            log.info("cost baseline pinned", extra={"model_version": version,
                                                    "window_start": start, "cost_per_1k": cost})

    def _model_ms(self, version: str, start: float, end: float) -> float | None:
        if self.compute is None:
            return 0.0  # Triton not read: the cost is the service's CPU alone
        if not self.compute.covers(version, start):
            return None
        return self.compute.compute_ms(start, end).get(version, 0.0)

    # ---- one tick ----------------------------------------------------------
    def tick(self, now: float | None = None) -> list[Transition]:
        now = time.time() if now is None else now
        mon = self.mon
        if not self._restored:
            state = mon.alert_state.data.get("engine")
            if state:
                mon.engine.restore(state)
            self._restored = True
        self.refresh_windows()
        self.update_references(now)
        cache: dict[float, Samples] = {}

        def samples(range_s: float) -> Samples:
            r = max(range_s, mon.settings.window_s)
            if r not in cache:
                model_ms = None if self.compute is None else self.compute.compute_ms(now - r, now)
                cache[r] = compute_samples(self.merged_since(now - r), r, self.prices,
                                           mon.runtime.lags, self._refs, model_ms)
            return cache[r]

        transitions = mon.engine.evaluate(samples, now)
        if transitions:
            mon.alert_state["engine"] = mon.engine.to_dict()
        mon.runtime.summary = self.summary(samples(mon.settings.summary_range_s), now)
        return transitions

    def summary(self, samples: Mapping[str, list[Sample]], now: float) -> dict[str, Any]:
        mon = self.mon
        rt = mon.runtime
        firing = [{"rule": st.rule, "labels": st.labels, "value": st.value,
                   "since": st.since, "fired_at": st.fired_at,
                   "severity": next((r.severity for r in mon.engine.rules if r.name == st.rule),
                                    "warning")} for st in mon.engine.firing()]
        headline: dict[str, Any] = {"active_alerts": len(firing)}
        for metric in HEADLINE_METRICS:
            values = [s.value for s in samples.get(metric, [])]
            if values:
                worst = min(values) if metric in ("auc", "accuracy", "cache_hit_rate") \
                    else max(values)
                headline[metric] = worst
        return {
            "generated_at": now, "ready": True, "window_s": mon.settings.window_s,
            "range_s": mon.settings.summary_range_s, "started_at": rt.started_at,
            "processed": dict(rt.processed), "duplicates": dict(rt.duplicates),
            "replayed": dict(rt.replayed), "lag_error": rt.lag_error,
            "references": sorted(self._refs), "headline": headline,
            "samples": {m: [_sample_json(s) for s in ss] for m, ss in samples.items()},
            "alerts": firing, "recent_alerts": list(rt.recent_alerts[-50:]),
            "rules": [{"name": r.name, "metric": r.metric, "op": r.op, "threshold": r.threshold,
                       "window_s": r.window_s, "severity": r.severity} for r in mon.engine.rules],
        }
