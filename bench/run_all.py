"""`make bench`: run every component benchmark, then write
bench/results/summary.json, summary.md (ratios against their same-run
baselines) and latency.png (latency percentiles per stage).

Each benchmark runs as its own process (a crash or time-out of one does not
lose the others) and writes bench/results/<area>.json with a ``ratios`` list
(see bench.common.ratio) and, where it measures latency, a ``latency_ms`` map
``{stage: {p50, p95, p99}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, machine

# (area, module, extra args, time limit in seconds)
BENCHES: list[tuple[str, str, list[str], int]] = [
    ("ingest", "bench.ingest", [], 900),
    ("features", "bench.features", [], 1200),
    ("features_floor", "bench.features_floor", [], 1500),
    ("features_fresh", "bench.features_fresh", [], 900),
    ("features_state", "bench.features_state", [], 2400),
    ("embedding_direct", "bench.embedding_direct", ["--triton"], 900),
    ("embedding_int8", "bench.embedding_int8", [], 900),
    ("embedder", "bench.embedder", [], 1200),
    ("inference", "bench.inference", [], 1200),
    ("monitor", "bench.monitor", [], 900),
    ("rollout", "bench.rollout", [], 900),
    ("security", "bench.security", [], 900),
    ("kafka_failover", "bench.kafka_failover", [], 600),
    ("flink_failover", "bench.flink_failover", [], 600),
    ("scaling", "bench.scaling", [], 1200),
    ("scaling_embedder", "bench.scaling_embedder", [], 900),
]


def run_one(area: str, module: str, args: list[str], limit: int) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1]
    if not (root / (module.replace(".", "/") + ".py")).exists():
        return {"area": area, "status": "missing", "detail": f"{module} not present"}
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=root,
                              capture_output=True, text=True, timeout=limit)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        tail = (proc.stdout + proc.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        status, tail = "timeout", f"over {limit}s"
    result_file = RESULTS / f"{area}.json"
    data: dict[str, Any] = {}
    if result_file.exists() and result_file.stat().st_mtime >= time.time() - (
            time.monotonic() - start) - 5:
        data = normalise(area, json.loads(result_file.read_text()))
    return {"area": area, "status": status, "seconds": round(time.monotonic() - start, 1),
            "measured_at": _measured_at(data) or _file_time(area),
            "result": data, "log_tail": tail if status != "ok" else ""}


def _r(name: str, value: float, baseline: float, target: float | None, unit: str,
       higher: bool = True) -> dict[str, Any]:
    from bench.common import ratio

    return ratio(name, value, baseline, target, unit, higher)


def normalise(area: str, data: dict[str, Any]) -> dict[str, Any]:
    """Benchmarks written before bench.common existed keep their own layout;
    derive their ``ratios``/``latency_ms`` here so the summary shows them."""
    if not data or data.get("ratios"):
        return data
    out = dict(data)
    if area == "embedder" and "end_to_end" in data:
        e2e, direct = data["end_to_end"], data.get("direct_onnx_batch32", {})
        base = direct.get("docs_per_s") or direct.get("after", {}).get("docs_per_s") or 0
        reliable = data.get("baseline_reliable", True)
        out["ratios"] = [_r("embedder end to end vs direct ONNX Runtime batch 32"
                            + ("" if reliable else " (baseline unreliable: too few batches)"),
                            e2e.get("docs_per_s", 0), base, 0.85 if reliable else None,
                            "docs/s")]
        half = e2e.get("half_load", {})
        ms = data.get("milvus_search", {})
        out["absolute"] = [
            {"name": "doc -> searchable p99 at 50% load", "value": half.get(
                "doc_to_searchable_ms_p99"), "target": 1000, "unit": "ms",
             "pass": data.get("targets", {}).get("p99_searchable_le_1000ms")},
            {"name": "Milvus filtered top-10 p99 (100k)", "value": ms.get("p99_ms"),
             "target": 20, "unit": "ms", "pass": data.get("targets", {}).get(
                 "search_p99_le_20ms")},
            {"name": "Milvus recall@10", "value": ms.get("recall_at_10"), "target": 0.95,
             "unit": "", "pass": data.get("targets", {}).get("search_recall_ge_0.95")}]
        out["latency_ms"] = {
            "doc -> searchable": {"p50": half.get("doc_to_searchable_ms_p50"),
                                  "p99": half.get("doc_to_searchable_ms_p99")},
            "Milvus search": {"p50": ms.get("p50_ms"), "p99": ms.get("p99_ms")}}
    if area == "embedding_direct" and "triton" in data:
        tri = data["triton"].get("batch32_c1", {})
        out["ratios"] = [_r("Triton (python backend, ONNX Runtime) batch 32 vs direct ONNX Runtime",
                            tri.get("docs_per_s", 0), data.get("baseline_docs_per_s", 0), None,
                            "docs/s")]
    if area == "monitor" and "throughput" in data:
        t = data["throughput"]
        out["ratios"] = data.get("ratios") or [
            _r("monitor catch-up vs raw confluent-kafka consume",
               t.get("monitor_catch_up_per_s", 0), t.get("raw_confluent_per_s", 0),
               None, "events/s")]
        out["absolute"] = [{"name": "drift onset -> alert (max)", "value": data.get(
            "drift", {}).get("max_onset_to_alert_s"), "target": data.get("drift", {}).get(
            "window_s"), "unit": "s", "pass": data.get("drift", {}).get("within_one_window")}]
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return "" if v is None else str(v)


def _measured_at(result: dict[str, Any]) -> str | None:
    """The run time a result records (older benchmarks call it ``at``)."""
    return result.get("measured_at") or result.get("at")


def _file_time(area: str) -> str:
    """When an area's result file was written (for results without measured_at)."""
    path = RESULTS / f"{area}.json"
    if not path.exists():
        return "?"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = ["# mlmesh benchmark summary", "",
             f"On {machine()['host_cpus']} cores. Each ratio divides a figure by a baseline "
             "measured in the same run. When each area was measured (UTC) and the 1-minute "
             "load average as its run ended:", ""]
    for run in runs:
        res = run["result"] or {}
        when = _measured_at(res) or run.get("measured_at") or "?"
        host = res.get("machine") or {}
        # the older name of the same reading (taken as the run ended, not at its start)
        load = host.get("loadavg_1m", host.get("loadavg_1m_at_start", "?"))
        lines.append(f"- {run['area']}: {when}, load {load}")
    lines += ["", "| area | figure | value | baseline | ratio | target | pass |",
              "|---|---|---|---|---|---|---|"]
    for run in runs:
        ratios = run["result"].get("ratios", []) if run["result"] else []
        if not ratios:
            lines.append(f"| {run['area']} | ({run['status']}) | | | | | |")
        for r in ratios:
            ok = {True: "yes", False: "**no**", None: ""}[r.get("pass")]
            lines.append(f"| {run['area']} | {r.get('name')} | {_fmt(r.get('value'))} "
                         f"{r.get('unit', '')} | {_fmt(r.get('baseline'))} | "
                         f"{_fmt(r.get('ratio'))} | {_fmt(r.get('target'))} | {ok} |")
    for run in runs:
        for a in (run["result"] or {}).get("absolute", []):
            ok = {True: "yes", False: "**no**", None: ""}[a.get("pass")]
            lines.append(f"| {run['area']} | {a['name']} (absolute) | {_fmt(a['value'])} "
                         f"{a.get('unit', '')} | | | {_fmt(a.get('target'))} | {ok} |")
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> bool:
    stages: dict[str, dict[str, float]] = {}
    for run in runs:
        for stage, pct in (run["result"] or {}).get("latency_ms", {}).items():
            stages[f"{run['area']}: {stage}"] = pct
    if not stages:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(stages)
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(names) + 1.5))
    for i, key in enumerate(("p50", "p95", "p99")):
        vals = [stages[n].get(key, float("nan")) for n in names]
        ax.barh([y + i * 0.27 for y in range(len(names))], vals, height=0.27, label=key)
    ax.set_yticks([y + 0.27 for y in range(len(names))], names)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_title("mlmesh latency percentiles per stage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def collected(area: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """An area's last written result, as a run (``--collect``). Its time is
    the result's own ``measured_at``, else the one the last summary recorded
    (a file's mtime is the checkout's, not the run's)."""
    result_file = RESULTS / f"{area}.json"
    if not result_file.exists():
        return {"area": area, "status": "missing", "detail": f"no {result_file.name}",
                "result": {}}
    result = normalise(area, json.loads(result_file.read_text()))
    when = _measured_at(result) or (previous or {}).get("measured_at") or "?"
    return {"area": area, "status": "ok", "collected": True, "measured_at": when,
            "result": result, "log_tail": ""}


def _previous_runs() -> dict[str, dict[str, Any]]:
    path = RESULTS / "summary.json"
    if not path.exists():
        return {}
    return {r["area"]: r for r in json.loads(path.read_text()).get("runs", [])}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="comma list of areas to re-run; the others keep the "
                                   "results of their last run in summary.json")
    ap.add_argument("--collect", action="store_true",
                    help="run nothing: rebuild the summary from each area's last "
                         "bench/results/<area>.json (after `make bench-<area>`)")
    args = ap.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    previous = _previous_runs() if wanted or args.collect else {}
    if args.collect:
        runs = [collected(a, previous.get(a)) for a, _m, _x, _t in BENCHES]
    else:
        runs = [run_one(a, m, x, t) if not wanted or a in wanted else previous[a]
                for a, m, x, t in BENCHES if not wanted or a in wanted or a in previous]
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"machine": machine(), "runs": runs}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    (RESULTS / "summary.md").write_text(markdown(runs))
    plotted = plot(runs, RESULTS / "latency.png")
    sys.stdout.write(markdown(runs))
    sys.stdout.write(f"\nwrote {RESULTS}/summary.json, summary.md"
                     f"{', latency.png' if plotted else ''}\n")
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
