"""Quix Streams doing the monitor's per-record work (bench/monitor_peers.py);
run in .venv-peers: ``python -m bench.monitor_peer_quix BOOTSTRAP TOPIC N GROUP``."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.state import State

from bench.monitor_peers import child_start, cpu_seconds
from mlmesh.events.v1 import prediction_made_pb2
from monitor.metrics import records as rec


def main() -> int:
    bootstrap, topic_name, n, group = child_start()
    live: dict[str, Any] = {}
    meter = {"taken": 0, "done": 0, "duplicates": 0, "t0": 0.0, "cpu0": 0.0}
    with tempfile.TemporaryDirectory(prefix="mlmesh-monitor-quix-") as state_dir:
        app = Application(broker_address=bootstrap, consumer_group=group,
                          auto_offset_reset="earliest", state_dir=state_dir, loglevel="WARNING")

        def take(value: bytes) -> bool:
            if meter["taken"] >= n:
                return False
            meter["taken"] += 1
            if meter["taken"] == 1:
                meter["t0"], meter["cpu0"] = time.perf_counter(), cpu_seconds()
            return True

        def fold(value: bytes, state: State) -> None:
            m = prediction_made_pb2.PredictionMade.FromString(value)
            if state.exists(m.request_id):
                meter["duplicates"] += 1
            else:
                state.set(m.request_id, 1)
                rec.apply_prediction(live, model_version=m.model_version,
                                     latency_ms=m.latency_ms, error=m.error,
                                     cache_hit=m.cache_hit, route=m.route, score=m.score,
                                     features=dict(m.features),
                                     feature_age_ms=m.feature_age_ms, degraded=m.degraded,
                                     cpu_ms=m.cpu_ms)
                if not m.error:
                    state.set("last_prediction", [m.score, m.model_version])
            meter["done"] += 1
            if meter["done"] == n:
                meter["t1"], meter["cpu1"] = time.perf_counter(), cpu_seconds()
                app.stop()

        topic = app.topic(topic_name, value_deserializer="bytes", key_deserializer="str")
        sdf = app.dataframe(topic)
        sdf = sdf.filter(take)
        sdf.update(fold, stateful=True)
        app.run()
    seconds = meter.get("t1", float("nan")) - meter["t0"]
    counted = sum(int(v.get("n", 0)) for v in live.get("v", {}).values())
    Path(os.environ["MLMESH_BENCH_RESULT"]).write_text(json.dumps({
        "records": meter["done"], "records_per_s": round(n / seconds, 1),
        "seconds": round(seconds, 3), "cpu_s": round(meter.get("cpu1", 0.0) - meter["cpu0"], 3),
        "counted": counted, "duplicates": meter["duplicates"],
        "notes": "quixstreams, 1 process, at-least-once, RocksDB state (request_id seen, "
                 "last prediction per user) with its changelog; the monitor's own "
                 "apply_prediction into an in-memory aggregate"}))
    return 0 if meter["done"] >= n else 1


if __name__ == "__main__":
    sys.exit(main())
