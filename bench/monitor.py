"""Monitor benchmark -> bench/results/monitor.json (run: python -m bench.monitor).

1. Throughput: events/s the monitor folds into its tables while catching up on
   a backlog of PredictionMade records (each with features: the heaviest
   topic), as a ratio of the raw consume rate of the SAME topic on the SAME
   broker by a bare confluent-kafka consumer and by a bare aiokafka consumer
   (the client faust uses). Then a steady offered load at 50% of that rate
   for 20 s: the monitor group's lag must stay flat. On the same records, its
   peers (``bench/monitor_peers.py``): faust's delivery alone (an agent doing
   nothing with the monitor's batches: the ceiling of a faust monitor) and
   Quix Streams doing the monitor's per-record work.
2. Offset gaps: the monitor's catch-up rate on FeatureUpdate records written
   in transactions of 5 (a marker after each, like the features job's
   ``feature_updates``) against the same records written without transactions.
3. Drift onset -> alert: seconds from producing drifted predictions to the
   drift alert on the alerts topic (rule window = table window).

Broker: $MLMESH_TEST_KAFKA_BOOTSTRAP, else a local KRaft broker on free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ratio, raw_consume_rate
from bench.monitor_peers import run_child
from mlmesh.localstack.base import free_port
from mlmesh.localstack.kafka import KafkaComponent
from mlmesh.testing.monitor import AlertReader, MonitorProcess, mesh_topics, sample, write_rules
from monitor import synthetic as sy

log = logging.getLogger("bench.monitor")
RESULTS = Path(__file__).resolve().parent / "results"


def raw_aiokafka(bootstrap: str, topic: str, n: int) -> float:
    from aiokafka import AIOKafkaConsumer

    async def run() -> float:
        c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=f"raw-aio-{uuid.uuid4().hex[:6]}", enable_auto_commit=False)
        await c.start()
        got, t0 = 0, 0.0
        try:
            while got < n:
                batch = await c.getmany(timeout_ms=1000, max_records=5000)
                for msgs in batch.values():
                    if msgs and not got:
                        t0 = time.perf_counter()
                    got += len(msgs)
        finally:
            await c.stop()
        return n / (time.perf_counter() - t0)

    return asyncio.run(run())


def preds(rng: random.Random, n: int, start: int, drift: bool = False,
          ts_ms: int | None = None, version: str = "v1") -> list[sy.Out]:
    ts = ts_ms if ts_ms is not None else int(time.time() * 1000)
    return [sy.prediction(f"b{start + i}", f"u{i % 500}", model_version=version,
                          latency_ms=rng.uniform(2, 50), score=rng.random(),
                          features=sy.features_for(rng, drift), ts_ms=ts) for i in range(n)]


def monitor_lag(mon: MonitorProcess) -> int:
    s = mon.summary()
    return int(sum(x["value"] for x in s["samples"].get("consumer_lag", [])
                   if x["labels"]["group"] == mon.app_id))


def throughput(bootstrap: str, state: Path, n: int) -> dict[str, Any]:
    rng = random.Random(1)
    mon = MonitorProcess(bootstrap, state, env={"MLMESH_MONITOR_WINDOW_S": "10"})
    mesh_topics(bootstrap, mon.prefix)
    topic = mon.prefix + "predictions"
    prod = sy.producer(bootstrap)
    sy.produce(prod, topic, preds(rng, n, 0))
    confluent_rate, _ = raw_consume_rate(bootstrap, topic, n)
    aiokafka_rate = raw_aiokafka(bootstrap, topic, n)
    mon.start()
    try:
        s = mon.wait_for(lambda s: s["processed"].get("predictions", 0) > 0, 120, "first")
        t0, n0 = time.perf_counter(), s["processed"]["predictions"]
        mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= n, 600, "backlog")
        rate = (n - n0) / (time.perf_counter() - t0)
        # steady offered load at half the catch-up rate: lag must stay flat
        offered = 0.5 * rate
        lags: list[int] = []
        sent = n
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end:
            tick = time.monotonic()
            k = int(offered)
            sy.produce(prod, topic, preds(rng, k, sent))
            sent += k
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            lags.append(monitor_lag(mon))
        mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= sent, 120, "drain")
        return {"records": n, "raw_confluent_per_s": round(confluent_rate),
                "raw_aiokafka_per_s": round(aiokafka_rate),
                "monitor_catch_up_per_s": round(rate),
                "ratio_vs_raw_confluent": round(rate / confluent_rate, 4),
                "ratio_vs_raw_aiokafka": round(rate / aiokafka_rate, 4),
                "steady_offered_per_s": round(offered),
                "steady_lag_samples": lags,
                # committed-offset lag moves in steps of commit interval x rate
                "steady_lag_flat": max(lags[len(lags) // 2:]) <= max(3 * offered, 1000),
                "topic": topic}
    finally:
        mon.stop()


def peers(bootstrap: str, topic: str, n: int, monitor_rate: float,
          raw_rate: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for peer in ("faust_floor", "quix"):
        res = run_child(peer, bootstrap, topic, n)
        log.info("%s: %s", peer, res)
        out[peer] = res
        rate = res.get("records_per_s")
        if rate:
            out[f"monitor_vs_{peer}"] = round(monitor_rate / rate, 3)
            out[f"{peer}_vs_raw_confluent"] = round(rate / raw_rate, 4)
    return out


def offset_gaps(bootstrap: str, state: Path, n: int, per_transaction: int = 5
                ) -> dict[str, Any]:
    """Monitor catch-up on feature_updates with a transaction marker every
    ``per_transaction`` records, against the same records without markers."""
    from confluent_kafka import Producer

    rates: dict[str, float] = {}
    for mode in ("transactions", "plain"):
        mon = MonitorProcess(bootstrap, state / mode, env={"MLMESH_MONITOR_WINDOW_S": "10"})
        mesh_topics(bootstrap, mon.prefix)
        topic = mon.prefix + "feature_updates"
        now = int(time.time() * 1000)
        recs = [sy.feature_update(f"u{i % 300}", freshness_ms=500, ts_ms=now) for i in range(n)]
        conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "linger.ms": 5}
        if mode == "transactions":
            conf["transactional.id"] = f"bench-gaps-{uuid.uuid4().hex[:8]}"
        p = Producer(conf)
        if mode == "transactions":
            p.init_transactions()
        for i in range(0, n, per_transaction):
            if mode == "transactions":
                p.begin_transaction()
            for r in recs[i:i + per_transaction]:
                p.produce(topic, r.value, key=r.key.encode(), timestamp=r.ts_ms)
            if mode == "transactions":
                p.commit_transaction()
            else:
                p.poll(0)
        p.flush(60)
        mon.start()
        try:
            s = mon.wait_for(lambda s: s["processed"].get("feature_updates", 0) > 0, 120, "first")
            t0, n0 = time.perf_counter(), s["processed"]["feature_updates"]
            mon.wait_for(lambda s: s["processed"].get("feature_updates", 0) >= n, 600, "all")
            rates[mode] = (n - n0) / (time.perf_counter() - t0)
        finally:
            mon.stop()
    return {"records": n, "records_per_transaction": per_transaction,
            "monitor_per_s": {k: round(v) for k, v in rates.items()},
            "transactions_vs_plain": round(rates["transactions"] / rates["plain"], 3)}


def drift_alert(bootstrap: str, state: Path, window_s: float, runs: int) -> dict[str, Any]:
    rules = write_rules(state / "drift-rules.yaml", [
        {"name": "feature_drift", "metric": "psi", "threshold": 0.2, "window": window_s,
         "min_count": 200, "severity": "warning"}])
    mon = MonitorProcess(bootstrap, state, env={"MLMESH_MONITOR_WINDOW_S": str(window_s),
                                                "MLMESH_MONITOR_ALERTS_FILE": str(rules),
                                                "MLMESH_MONITOR_REFERENCE_MIN_COUNT": "500"})
    mesh_topics(bootstrap, mon.prefix)
    topic = mon.prefix + "predictions"
    prod = sy.producer(bootstrap)
    rng = random.Random(2)
    past = int((time.time() - 10 * window_s) * 1000)
    for r in range(runs):
        sy.produce(prod, topic, preds(rng, 1000, 100_000 * r, ts_ms=past, version=f"v{r}"))
    mon.start()
    reader = AlertReader(bootstrap, mon.prefix + "alerts")
    seconds: list[float] = []
    try:
        mon.wait_for(lambda s: len(s["references"]) == runs, 120, "references")
        for r in range(runs):
            onset = time.monotonic()
            sy.produce(prod, topic, preds(rng, 600, 100_000 * r + 5000, drift=True,
                                          version=f"v{r}"))
            version = f"v{r}"

            def fired(a: Any, version: str = version) -> bool:
                return bool(a.rule == "feature_drift" and not a.resolved
                            and a.labels["model_version"] == version)

            reader.wait_for(fired, timeout=10 * window_s)
            seconds.append(round(time.monotonic() - onset, 3))
        psi = sample(mon.summary(), "psi", model_version="v0", feature="amount_sum_5m")
        return {"window_s": window_s, "rule_window_s": window_s, "eval_interval_s": 0.5,
                "onset_to_alert_s": seconds, "max_onset_to_alert_s": max(seconds),
                "within_one_window": max(seconds) <= window_s,
                "psi_amount_after_drift": psi["value"] if psi else None}
    finally:
        reader.close()
        mon.stop()


def ratios(result: dict[str, Any]) -> list[dict[str, Any]]:
    tp, pe = result["throughput"], result["peers"]
    rate = tp["monitor_catch_up_per_s"]
    out = [ratio("monitor catch-up / raw confluent-kafka consume, same topic", rate,
                 tp["raw_confluent_per_s"], 0.25, "records/s")]
    for peer, note in (("quix", "Quix Streams doing the same per-record work"),
                       ("faust_floor", "faust's delivery with no work: the ceiling on faust")):
        peer_rate = (pe.get(peer) or {}).get("records_per_s")
        if peer_rate:
            out.append(ratio(f"monitor / {peer}", rate, peer_rate,
                             1.0 if peer == "quix" else None, "records/s", note=note))
    gaps = result["offset_gaps"]
    out.append(ratio("monitor on a topic with a transaction marker every 5 records / without",
                     gaps["monitor_per_s"]["transactions"], gaps["monitor_per_s"]["plain"],
                     None, "records/s"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=60_000)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--drift-runs", type=int, default=3)
    ap.add_argument("--gap-records", type=int, default=20_000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    import os

    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        state = Path(tmp)
        broker = None
        bootstrap = os.environ.get("MLMESH_TEST_KAFKA_BOOTSTRAP", "")
        if not bootstrap:
            broker = KafkaComponent(state / "kafka-state", port=free_port(),
                                    controller_port=free_port(), name="kafka-bench")
            broker.start()
            bootstrap = broker.bootstrap
        try:
            tp = throughput(bootstrap, state, args.records)
            result: dict[str, Any] = {
                      "bench": "monitor", "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "throughput": tp,
                      "peers": peers(bootstrap, tp["topic"], args.records,
                                     tp["monitor_catch_up_per_s"], tp["raw_confluent_per_s"]),
                      "offset_gaps": offset_gaps(bootstrap, state, args.gap_records),
                      "drift": drift_alert(bootstrap, state, args.window, args.drift_runs)}
            result["ratios"] = ratios(result)
        finally:
            if broker is not None:
                broker.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "monitor.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s", RESULTS / "monitor.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
