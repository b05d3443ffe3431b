"""The features job's floor, measured in one JVM: Flink jobs that do a growing
part of the features job's work over the same Kafka topic, each bounded (it
reads the topic up to its latest offsets, then finishes).

Runs in .venv-flink as ``python -m bench.features_floor_job`` (called by
``bench/features_floor.py``, which owns the broker, the topics and the raw
baseline); prints one JSON line. Every stage uses the job's own configuration
(RocksDB state, exactly-once checkpoints every 500 ms, unaligned) and its own
code (``features_job.input_view``, ``deduplicated_view``, ``build``):

* ``source``: the Kafka source table, key and value bytes to a blackhole;
* ``decode``: + the JVM decode, watermarks, the good/bad split;
* ``dedup``: + the late filter and the first-row dedup by event_id (RocksDB),
  its SQL straight into the blackhole;
* ``hop_5m``: + the dedup's DataStream round trip (as the job has it, so that
  the windows share one dedup) and the 5-minute sliding window of the
  ``user_activity_5m`` view;
* ``job``: the whole job (every view, zero rows, the exactly-once Kafka sink).

Each stage runs over a small and a large topic; the marginal rate,
(large - small) / (time large - time small), and the marginal CPU per event
(the JVM's and this process's) leave out what a run costs whatever its size
(submission, scheduling, the final checkpoint). The ladder
runs ``--passes`` times in the same JVM and the last pass is reported: the
earlier ones warm the JIT up (features README, "Per-thread CPU").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from bench.common import tree_cpu_seconds
from features.job import features_job as fj
from features.job import sql

STAGES = ("source", "decode", "dedup", "hop_5m", "windows", "job")
WINDOW_ROW = ("user_id STRING, feature_view STRING, ws BIGINT, we BIGINT, "
              "vals MAP<STRING, DOUBLE>, max_ts BIGINT")


def _blackhole(t_env: StreamTableEnvironment, name: str, columns: str) -> None:
    t_env.execute_sql(f"CREATE TEMPORARY TABLE {name} ({columns}) "
                      "WITH ('connector' = 'blackhole')")


def _events(t_env: StreamTableEnvironment, args: argparse.Namespace) -> str:
    return fj.input_view(t_env, args, fj.events_input(args))


def _stage_sql(stage: str, t_env: StreamTableEnvironment, args: argparse.Namespace) -> str:
    fj.register_functions(t_env)
    good = _events(t_env, args)
    if stage == "source":
        _blackhole(t_env, "bh", "k BYTES, v BYTES")
        return "INSERT INTO bh SELECT k, v FROM ue_src"
    _blackhole(t_env, "bh", "event_id STRING, user_id STRING, ts BIGINT")
    if stage == "decode":
        return f"INSERT INTO bh SELECT event_id, user_id, ts FROM {good}"
    if stage == "dedup":
        return f"INSERT INTO bh SELECT event_id, user_id, ts FROM ({sql.dedup_view(good)})"
    fj.deduplicated_view(t_env, good, "events_ok")
    _blackhole(t_env, "bh_w", WINDOW_ROW)
    return f"INSERT INTO bh_w {sql.activity_5m('events_ok')}"


def run_stage(stage: str, topic: str, base: argparse.Namespace, tag: str) -> float:
    """Seconds from submitting ``stage`` over ``topic`` to its end."""
    args = argparse.Namespace(**{**vars(base), "events_topic": topic,
                                 "output_topic": f"{topic}.out",
                                 "txn_prefix": f"floor-{tag}",
                                 "group_id": f"floor-{tag}",
                                 "checkpoint_dir": str(Path(base.checkpoint_dir) / tag)})
    env = StreamExecutionEnvironment.get_execution_environment(fj.flink_config(args))
    t_env = StreamTableEnvironment.create(env)
    t0 = time.perf_counter()
    if stage in ("job", "windows"):
        if stage == "windows":
            # the window-close job with its own defaults (fj.parse_args's for windows)
            args.mode, args.idle_timeout_ms = "windows", 0
            args.checkpoint_interval_ms, args.buffer_timeout_ms = 500, 100
        fj.build(env, t_env, args)
        env.execute(f"floor-{tag}")
    else:
        t_env.execute_sql(_stage_sql(stage, t_env, args)).wait()
    return time.perf_counter() - t0


def ladder(base: argparse.Namespace, small: tuple[str, int], large: tuple[str, int],
           passes: int, stages: tuple[str, ...],
           cpu: Callable[[], float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for p in range(passes):
        for stage in stages:
            c0 = cpu()
            t_small = run_stage(stage, small[0], base, f"{stage}-{p}-s")
            c1 = cpu()
            t_large = run_stage(stage, large[0], base, f"{stage}-{p}-l")
            c_small, c_large = c1 - c0, cpu() - c1
            extra, marginal = large[1] - small[1], t_large - t_small
            out[stage] = {"small_s": round(t_small, 3), "large_s": round(t_large, 3),
                          "events_per_s": round(extra / marginal) if marginal > 0 else 0,
                          "cpu_us_per_event": round((c_large - c_small) / extra * 1e6, 2),
                          # the large run must take clearly longer than the fixed costs'
                          # noise, or the difference says nothing
                          "reliable": marginal > 0.2 * t_small, "pass": p}
            sys.stderr.write(f"floor pass {p} {stage}: {out[stage]}\n")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", required=True, help="TOPIC:EVENTS")
    p.add_argument("--large", required=True, help="TOPIC:EVENTS")
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--stages", default=",".join(STAGES))
    own, rest = p.parse_known_args(argv)
    base = fj.parse_args([*rest, "--bounded", "--no-documents"])
    fj.embedded_python_path()
    small_topic, small_n = own.small.rsplit(":", 1)
    large_topic, large_n = own.large.rsplit(":", 1)
    stages = tuple(s for s in own.stages.split(",") if s)
    unknown = set(stages) - set(STAGES)
    if unknown:
        p.error(f"unknown stages {sorted(unknown)}; known: {', '.join(STAGES)}")
    result = ladder(base, (small_topic, int(small_n)), (large_topic, int(large_n)),
                    own.passes, stages, lambda: tree_cpu_seconds(os.getpid()))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
