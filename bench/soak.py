"""Soak: the whole local mesh under steady load for N minutes.

``make soak MINUTES=N`` (``python -m bench.soak --minutes N``). A throw-away
mesh on its own ports gets real-time events through ingest at a steady rate
(documents and Predict calls with them); every ``--sample-s`` it records each
component's resident memory (its whole process group), every consumer group's
lag and the error counters. Verdict: no component died, zero errors (dead
letters, refused or abandoned sends, failed predictions), lag bounded (the
last third never above the first third's maximum + a margin) and no
unbounded memory growth (the RSS slope over the second half, after warm-up,
below ``--max-slope-mb-min``). Output: bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import write
from mlmesh.chaos.drain import end_offsets, group_lags, lag_scan
from mlmesh.chaos.load import IngestSender, Prober
from mlmesh.chaos.procs import NotRunning, ProcessControl
from mlmesh.chaos.stackenv import ChaosStack, Ports, free_base
from mlmesh.workload.generator import Workload, WorkloadConfig

log = logging.getLogger("bench.soak")
DLQS = ("user_events.dlq", "documents.dlq", "labels.dlq", "feature_updates.dlq",
        "embeddings_written.dlq", "predictions.dlq", "alerts.dlq")
TOPICS = ("user_events", "documents", "feature_updates", "embeddings_written", "predictions")


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) in value per minute."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mx) * (v - my) for t, v in points) / var * 60


class Sampler:
    def __init__(self, stack: ChaosStack, every_s: float) -> None:
        from confluent_kafka.admin import AdminClient

        self.stack = stack
        self.every_s = every_s
        self.pc = ProcessControl(stack.run_dir)
        self.admin = AdminClient({"bootstrap.servers": stack.bootstrap, "log_level": 3})
        self.scan = lag_scan(stack.bootstrap, self.admin)
        self.samples: list[dict[str, Any]] = []
        self.pids = {n: self.pc.pid(n) for n in stack.names()}
        self.deaths: list[str] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(30)
        if not self._thread.is_alive():
            self.scan.close()

    def _run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        s: dict[str, Any] = {"t": round(time.monotonic() - self.t0, 1), "rss_mb": {}}
        for name, pid in self.pids.items():
            try:
                now = self.pc.pid(name)
                s["rss_mb"][name] = round(self.pc.group_rss_bytes(name) / 2**20, 1)
            except NotRunning:
                now = -1
            if now != pid and f"{name} (pid {pid})" not in self.deaths:
                self.deaths.append(f"{name} (pid {pid})")
        try:
            ends = end_offsets(self.admin, (*TOPICS, *DLQS))
            s["lag"] = group_lags(self.scan, {k: v for k, v in ends.items()
                                              if k[0] in TOPICS})
            s["dead_letters"] = sum(v for (t, _), v in ends.items() if t in DLQS)
        except Exception as exc:  # recorded: the broker not answering is an error too
            s["error"] = repr(exc)
        self.samples.append(s)


def verdict(sampler: Sampler, sender_stats: dict[str, Any], predictions: dict[str, Any],
            max_slope: float) -> dict[str, Any]:
    samples = sampler.samples
    half = samples[len(samples) // 2:]
    memory: dict[str, Any] = {}
    for name in sampler.pids:
        pts = [(s["t"], s["rss_mb"][name]) for s in half if name in s["rss_mb"]]
        allpts = [s["rss_mb"][name] for s in samples if name in s["rss_mb"]]
        memory[name] = {"start_mb": allpts[0] if allpts else None,
                        "end_mb": allpts[-1] if allpts else None,
                        "max_mb": max(allpts) if allpts else None,
                        "slope_mb_per_min": round(slope_per_min(pts), 3)}
    third = max(1, len(samples) // 3)
    lag_tot = [sum((s.get("lag") or {}).values()) for s in samples]
    lag_bound = max(lag_tot[:third] or [0]) + 5000
    dlq = [s.get("dead_letters", 0) for s in samples]
    errors = {"dead_letters": (dlq[-1] - dlq[0]) if dlq else 0,
              "sample_errors": sum(1 for s in samples if "error" in s),
              "ingest_rejected": sum(sender_stats.get("rejected", {}).values()),
              "ingest_gave_up": sender_stats.get("gave_up", 0),
              "predict_failed": sum(predictions.get("failed", {}).values()),
              "deaths": len(sampler.deaths)}
    checks = {
        "no_deaths": not sampler.deaths,
        "zero_errors": all(v == 0 for v in errors.values()),
        "lag_bounded": max(lag_tot[-third:] or [0]) <= lag_bound,
        "memory_bounded": all(m["slope_mb_per_min"] <= max_slope for m in memory.values()),
    }
    return {"pass": all(checks.values()), "checks": checks, "errors": errors,
            "deaths": sampler.deaths, "memory": memory,
            "lag": {"max": max(lag_tot or [0]), "final": lag_tot[-1] if lag_tot else 0,
                    "bound": lag_bound}}


def soak(minutes: float, rate: float, sample_s: float, max_slope: float,
         port_base: int | None) -> dict[str, Any]:
    seconds = minutes * 60
    stack = ChaosStack(Path(tempfile.mkdtemp(prefix="mlmesh-soak-")),
                       free_base(29640, 29700) if port_base is None else Ports(port_base))
    start_ms = int(time.time() * 1000)
    events = max(100, int(rate * seconds))
    wl = Workload(WorkloadConfig(users=200, events=events, doc_ratio=0.02, span_s=seconds,
                                 end_ms=start_ms + int(seconds * 1000) + 60_000, labels=False,
                                 seed=1234))
    try:
        startup = stack.up()
        records = list(wl.records())
        sampler = Sampler(stack, sample_s)
        sampler.sample()
        sampler.start()
        prober = None
        if stack.has("inference"):
            prober = Prober(stack.ports.replicas(stack.ports.inference_grpc),
                            sorted(u.user_id for u in wl.users), seed=1, period=0.5)
            prober.start()
        sender = IngestSender(stack.ports.replicas(stack.ports.ingest_grpc), seed=1, batch=100,
                              resend_p=0.0, give_up_s=30)
        stats = sender.send(records, seconds).to_dict()
        sender.close()
        preds: dict[str, Any] = {}
        if prober is not None:
            prober.close()
            preds = {"answered": len(prober.answered), "attempts": prober.attempts,
                     "failed": dict(prober.failed)}
        sampler.sample()
        sampler.close()
        result = verdict(sampler, stats, preds, max_slope)
    finally:
        leftovers = stack.down()
    return {"minutes": minutes, "rate_events_per_s": rate, "components": stack.names(),
            "missing_components": stack.missing, "startup_s": startup, "send": stats,
            "predictions": preds, **result, "leftovers": leftovers,
            "samples": sampler.samples}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=200.0, help="events/s through ingest")
    p.add_argument("--sample-s", type=float, default=10.0)
    p.add_argument("--max-slope-mb-min", type=float, default=5.0)
    p.add_argument("--port-base", type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out = soak(args.minutes, args.rate, args.sample_s, args.max_slope_mb_min, args.port_base)
    path = write("soak", out)
    summary = {k: out[k] for k in ("pass", "checks", "errors", "lag", "memory")}
    sys.stdout.write(json.dumps(summary, indent=2) + f"\n-> {path}\n")
    return 0 if out["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
