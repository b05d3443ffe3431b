"""The monitor alone under a steady PredictionMade load: ``python -m
bench.monitor_soak --minutes 30 --rate 6800`` (the issue: 80% of the
monitor's own catch-up rate, bench/results/monitor.json). Every ``--sample-s``
it records the monitor's resident memory and its group's lag. Verdict: the
lag bounded (its last third never above the first third's maximum + one
second of load) and the memory flat after the warm-up: never above
``--max-growth`` times its peak in the two minutes before the warm-up ends.
Request ids are remembered ``dedupe_ttl_s`` to twice that, in tumbling windows
aligned to the epoch, so the ids held peak at two full windows for the first
time two windows after the first window boundary of the run: that moment,
computed from the run's start, is the end of the warm-up, and later peaks
(one per window) must not exceed it. ``--dedupe-ttl-s`` (300 here, the
service's default is 600) makes 30 minutes hold three such peaks after the
warm-up; with 600, the ids held (and that part of the memory) double.
Output: bench/results/monitor_soak.json.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import write
from bench.monitor import monitor_lag, preds
from bench.soak import slope_per_min
from mlmesh.localstack.base import free_port
from mlmesh.localstack.kafka import KafkaComponent
from mlmesh.testing.monitor import MonitorProcess, mesh_topics
from monitor import synthetic as sy

log = logging.getLogger("bench.monitor_soak")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def warm_up_min(start_epoch: float, ttl: float) -> float:
    """Minutes from the start until the ids held first span two full windows."""
    first_boundary = math.ceil(start_epoch / ttl) * ttl
    return (first_boundary + 2 * ttl - start_epoch) / 60


def soak(bootstrap: str, state: Path, minutes: float, rate: float, sample_s: float,
         max_growth: float, ttl: float) -> dict[str, Any]:
    mon = MonitorProcess(bootstrap, state, env={"MLMESH_MONITOR_WINDOW_S": "30",
                                                "MLMESH_MONITOR_DEDUPE_TTL_S": str(ttl)})
    mesh_topics(bootstrap, mon.prefix)
    topic = mon.prefix + "predictions"
    prod = sy.producer(bootstrap)
    rng = random.Random(4)
    mon.start()
    samples: list[dict[str, Any]] = []
    sent = 0
    t0 = time.monotonic()
    warm_min = warm_up_min(time.time(), ttl)
    next_sample = t0
    try:
        while time.monotonic() - t0 < minutes * 60:
            tick = time.monotonic()
            k = int(rate)
            sy.produce(prod, topic, preds(rng, k, sent))
            sent += k
            if tick >= next_sample:
                assert mon.proc is not None
                sample: dict[str, Any] = {"t_min": round((tick - t0) / 60, 2),
                                          "rss_mb": round(rss_mb(mon.proc.pid), 1)}
                try:
                    sample["lag"] = monitor_lag(mon)
                except OSError as exc:  # its API did not answer in time: kept, and counted
                    sample["lag"], sample["unanswered"] = None, repr(exc)
                samples.append(sample)
                log.info("%s", samples[-1])
                next_sample += sample_s
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        processed = mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= sent, 300,
                                 "drain")["processed"]["predictions"]
    finally:
        mon.stop()
    return {"minutes": minutes, "offered_per_s": rate, "dedupe_ttl_s": ttl,
            "sent": sent, "processed": processed,
            "samples": samples, **verdict(samples, rate, max_growth, warm_min)}


def verdict(samples: list[dict[str, Any]], rate: float, max_growth: float,
            warm_min: float) -> dict[str, Any]:
    third = max(1, len(samples) // 3)
    lags = [s["lag"] for s in samples if s["lag"] is not None]
    lag_bound = max(lags[:third], default=0) + rate
    last = [s["lag"] for s in samples[-third:] if s["lag"] is not None]
    warm = [s for s in samples if s["t_min"] >= warm_min]
    slope = slope_per_min([(s["t_min"] * 60, s["rss_mb"]) for s in warm])
    peak = max(s["rss_mb"] for s in samples)
    peak_warm = max((s["rss_mb"] for s in samples if warm_min - 2 <= s["t_min"] < warm_min),
                    default=0.0)
    peak_after = max((s["rss_mb"] for s in warm), default=0.0)
    unanswered = sum(1 for s in samples if s["lag"] is None)
    return {"lag_bounded": unanswered == 0 and all(lag <= lag_bound for lag in last),
            "lag_max_last_third": max(last, default=None),
            "api_unanswered_samples": unanswered,
            "rss_mb_first": samples[0]["rss_mb"], "rss_mb_peak": peak,
            "rss_mb_last": samples[-1]["rss_mb"], "warm_min": warm_min,
            "rss_slope_mb_per_min_after_warm": round(slope, 3),
            "rss_mb_peak_before_warm": peak_warm, "rss_mb_peak_after_warm": peak_after,
            "memory_flat": len(warm) >= 3 and peak_after <= max_growth * peak_warm,
            "max_growth": max_growth}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=6800.0, help="PredictionMade records/s")
    ap.add_argument("--sample-s", type=float, default=15.0)
    ap.add_argument("--max-growth", type=float, default=1.1,
                    help="the RSS after the warm-up at most this times its peak before it")
    ap.add_argument("--dedupe-ttl-s", type=float, default=300.0,
                    help="the monitor's dedupe_ttl_s (the warm-up follows from it)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-monitor-soak-") as tmp:
        state = Path(tmp)
        broker = KafkaComponent(state / "kafka", port=free_port(), controller_port=free_port(),
                                name="kafka-monitor-soak")
        broker.start()
        try:
            result = soak(broker.bootstrap, state, args.minutes, args.rate, args.sample_s,
                          args.max_growth, args.dedupe_ttl_s)
        finally:
            broker.stop()
    log.info("wrote %s", write("monitor_soak", result))
    return 0 if result["lag_bounded"] and result["memory_flat"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
