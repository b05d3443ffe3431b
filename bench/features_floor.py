"""Features floor benchmark -> bench/results/features_floor.json.

Where the features job's rate goes, against the raw confluent-kafka read of
the same topic in the same run: a ladder of bounded Flink jobs that do a
growing part of the job's work (bench/features_floor_job.py, run in
.venv-flink: source only, + JVM decode, + dedup, + the 5-minute sliding
window, the whole job). The first rung is the floor of any Flink job on this
topic: a job that reads every record and discards it. Each rung runs over a
one-hour topic and a MLMESH_BENCH_FLOOR_HOURS-hour one (5) of
MLMESH_BENCH_FLOOR_PER_HOUR events an hour (200,000, 1,000 users: the
features benchmark's backlog); MLMESH_BENCH_FLOOR_PASSES (2; the last is reported),
MLMESH_BENCH_FLOOR_STAGES (all), MLMESH_BENCH_KAFKA_BOOTSTRAP (a broker of
your own; default a throw-away local one).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in ("", "lib", "tooling", "gen/python", "services", "tests/integration/features"):
    sys.path.insert(0, str(ROOT / _p))

from bench import features_events as fe  # noqa: E402
from bench.common import broker, ratio, raw_consume_rate, write  # noqa: E402

USERS = 1000


def _topic(bootstrap: str, name: str, hours: int, per_hour: int, seed: int) -> int:
    """``hours`` hours of event time at ``per_hour`` events an hour (the features
    benchmark's density), ending an hour ago (inside Kafka's timestamp bounds),
    and the topics a whole job writes to. Returns the number of events."""
    from mlmesh.kafka.topics import TopicSpec, ensure_topics

    ensure_topics(bootstrap, [TopicSpec(name, 3), TopicSpec(f"{name}.dlq", 1),
                              TopicSpec(f"{name}.out", 3)])
    n = hours * per_hour
    start = (int(time.time() * 1000) // fe.MIN - (hours + 1) * fe.BACKLOG_MIN) * fe.MIN
    fe.produce(bootstrap, name, fe.events(n, USERS, start, hours * fe.BACKLOG_MIN * fe.MIN / n,
                                          seed))
    return n


def ladder(bootstrap: str, small: tuple[str, int], large: tuple[str, int], passes: int,
           stages: str, state: Path) -> dict[str, dict[str, float]]:
    from mlmesh.localstack.flink import CONNECTOR_JAR, FUNCTIONS_JAR
    from mlmesh.localstack.paths import jars_root
    from mlmesh.localstack.service import source_pythonpath

    py = ROOT / ".venv-flink" / "bin" / "python"
    cmd = [str(py), "-m", "bench.features_floor_job",
           "--small", f"{small[0]}:{small[1]}", "--large", f"{large[0]}:{large[1]}",
           "--passes", str(passes), "--stages", stages,
           "--bootstrap", bootstrap, "--checkpoint-dir", str(state / "checkpoints"),
           "--tmp-dir", str(state / "tmp"),
           "--connector-jar", str(jars_root() / CONNECTOR_JAR),
           "--functions-jar", str(jars_root() / FUNCTIONS_JAR)]
    env = {**os.environ, "PYTHONPATH": source_pythonpath(str(ROOT))}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    if res.returncode:
        raise RuntimeError(f"floor ladder failed ({res.returncode}): {res.stderr[-3000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def run(bootstrap: str, hours: int, per_hour: int, passes: int, stages: str) -> dict[str, Any]:
    """A one-hour topic and an ``hours``-hour one of the same density: the
    large one has ``hours`` times the events *and* the window results, so the
    marginal rate counts the windows' firing as well as the per-event work."""
    prefix = f"floor{uuid.uuid4().hex[:6]}"
    small = (f"{prefix}.small", _topic(bootstrap, f"{prefix}.small", 1, per_hour, 1))
    large = (f"{prefix}.large", _topic(bootstrap, f"{prefix}.large", hours, per_hour, 2))
    n = large[1]
    cpu = time.process_time()
    raw, raw_runs = raw_consume_rate(bootstrap, large[0], n)
    cpu = time.process_time() - cpu
    state = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        rungs = ladder(bootstrap, small, large, passes, stages, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    peers = run_peers(bootstrap, large[0], n)
    return {"events": n, "small_events": small[1], "hours": hours, "events_per_hour": per_hour,
            "users": USERS, "passes": passes,
            "raw_consume_events_per_s": round(raw),
            "raw_consume_runs_events_per_s": [round(r) for r in raw_runs],
            "raw_consume_cpu_us_per_event": round(cpu / (len(raw_runs) * n) * 1e6, 2),
            "stages": rungs, "peers": peers,
            "stage_over_raw": {k: round(v["events_per_s"] / raw, 4) for k, v in rungs.items()}}


def run_peers(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    """Quix Streams and Bytewax doing the tiles' per-user minute/hour counts and
    sums over the same topic (bench/features_peers.py, in .venv-peers)."""
    python = ROOT / ".venv-peers" / "bin" / "python"
    if not python.exists():
        return {"skipped": "no .venv-peers: run `make setup-peers`"}
    res = subprocess.run([str(python), str(ROOT / "bench" / "features_peers.py"),
                          "--bootstrap", bootstrap, "--topic", topic, "--events", str(n)],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if res.returncode:
        return {"error": res.stderr[-2000:]}
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


NAMES = {
    "source": "Flink Kafka SQL source only (bytes to a blackhole): the floor of any Flink job",
    "decode": "+ JVM protobuf decode, watermarks, good/bad split",
    "dedup": "+ late filter and first-row dedup by event_id (RocksDB keyed state)",
    "hop_5m": "+ the dedup's DataStream round trip and the 5-minute sliding window (one view)",
    "windows": "the window-close job (--mode windows, the baseline): every view, zero rows, "
               "exactly-once sink",
    "job": "the whole features job (tiles): minute-tile deltas of events and documents, "
           "exactly-once sink",
}
# the features-fresh issue's target: the tiles job at 5x the window-close job's rate
TILES_TARGET = 5.0


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    env = os.environ.get
    with broker() as bootstrap:
        result = run(bootstrap, int(env("MLMESH_BENCH_FLOOR_HOURS", "5")),
                     int(env("MLMESH_BENCH_FLOOR_PER_HOUR", "200000")),
                     int(env("MLMESH_BENCH_FLOOR_PASSES", "2")),
                     env("MLMESH_BENCH_FLOOR_STAGES", ",".join(NAMES)))
    raw = result["raw_consume_events_per_s"]
    result["ratios"] = [
        ratio(f"{NAMES[k]} vs raw confluent-kafka consume", v["events_per_s"], raw,
              None, "events/s",
              note="marginal rate (large - small topic: events and window results), JIT-warm "
                   "pass" if v["reliable"] else "UNRELIABLE: the large run was not clearly "
                   "longer than the small one; raise MLMESH_BENCH_FLOOR_HOURS")
        for k, v in result["stages"].items()]
    stages = result["stages"]
    if "job" in stages and "windows" in stages:
        reliable = stages["job"]["reliable"] and stages["windows"]["reliable"]
        result["ratios"].append(ratio(
            "tiles job vs the window-close job, same topic, same run",
            stages["job"]["events_per_s"], stages["windows"]["events_per_s"],
            TILES_TARGET if reliable else None, "events/s",
            note="marginal rates of the two bounded rungs above"))
    for peer, got in result["peers"].items():
        if isinstance(got, dict) and got.get("events_per_s") and "job" in stages:
            result["ratios"].append(ratio(
                f"tiles job vs {peer} doing the same per-user tile counts and sums, same topic",
                stages["job"]["events_per_s"], got["events_per_s"], 1.0, "events/s",
                note=f"job: marginal rate, exactly-once; {peer}: {got.get('notes', '')}"[:300]))
    path = write("features_floor", result)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
