"""The window choice, measured: the same 5-minute/1-minute sliding count+sum per
user as Flink SQL (HOP) and as a Python window operator, on one sample.

Runs in .venv-flink as ``python -m bench.features_windows`` (``bench/features.py``
calls it); prints one JSON line.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

from pyflink.common import Configuration, Duration, Row, Types, WatermarkStrategy
from pyflink.common.time import Time
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.functions import ProcessWindowFunction
from pyflink.datastream.window import SlidingEventTimeWindows
from pyflink.table import StreamTableEnvironment

ROW = Types.ROW_NAMED(["user_id", "ts", "amount"], [Types.STRING(), Types.LONG(), Types.DOUBLE()])


class Ts(TimestampAssigner):  # type: ignore[misc]
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])


class CountSum(ProcessWindowFunction):  # type: ignore[misc]
    def process(self, key: str, context: Any, elements: Any) -> Any:
        n, total = 0, 0.0
        for e in elements:
            n += 1
            total += e[2]
        yield Row(key, context.window().end, n, total)


def _env() -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    from features.job.features_job import embedded_python_path

    embedded_python_path()  # thread mode: the JVM's embedded CPython needs this venv's paths
    conf = Configuration()
    conf.set_string("python.execution-mode", "thread")
    conf.set_string("python.executable", sys.executable)
    conf.set_string("parallelism.default", "1")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    return env, StreamTableEnvironment.create(env)


def _source(env: StreamExecutionEnvironment, rows: list[Row]) -> Any:
    wm = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(5))
          .with_timestamp_assigner(Ts()))
    return env.from_collection(rows, type_info=ROW).assign_timestamps_and_watermarks(wm)


def run(mode: str, rows: list[Row]) -> float:
    env, t_env = _env()
    # the window end as each side has it (SQL: a TIMESTAMP, Python: epoch ms),
    # so neither pays for a conversion the other does not
    end_type = "TIMESTAMP(3)" if mode == "sql" else "BIGINT"
    t_env.execute_sql(f"CREATE TEMPORARY TABLE out_t (u STRING, e {end_type}, n BIGINT, "
                      "s DOUBLE) WITH ('connector' = 'blackhole')")
    ds = _source(env, rows)
    if mode == "sql":
        t_env.create_temporary_view("ev", _with_rowtime(t_env, ds))
        query = ("INSERT INTO out_t SELECT user_id, window_end, "
                 "COUNT(*), SUM(amount) FROM TABLE(HOP(TABLE ev, DESCRIPTOR(rt), "
                 "INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)) "
                 "GROUP BY user_id, window_start, window_end")
    elif mode == "python":
        out = (ds.key_by(lambda r: r[0], key_type=Types.STRING())
               .window(SlidingEventTimeWindows.of(Time.minutes(5), Time.minutes(1)))
               .process(CountSum(), output_type=Types.ROW([Types.STRING(), Types.LONG(),
                                                          Types.LONG(), Types.DOUBLE()])))
        t_env.create_temporary_view("res", t_env.from_data_stream(out))
        query = "INSERT INTO out_t SELECT * FROM res"
    else:  # baseline: source + watermarks only
        t_env.create_temporary_view("res", t_env.from_data_stream(ds))
        query = "INSERT INTO out_t SELECT user_id, ts, 1, amount FROM res"
    t0 = time.perf_counter()
    t_env.execute_sql(query).wait()
    return time.perf_counter() - t0


def _with_rowtime(t_env: StreamTableEnvironment, ds: Any) -> Any:
    from pyflink.table import DataTypes, Schema

    schema = (Schema.new_builder().column("user_id", DataTypes.STRING())
              .column("ts", DataTypes.BIGINT()).column("amount", DataTypes.DOUBLE())
              .column_by_expression("rt", "TO_TIMESTAMP_LTZ(ts, 3)")
              .watermark("rt", "SOURCE_WATERMARK()").build())
    return t_env.from_data_stream(ds, schema)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rnd = random.Random(1)
    t = 1_700_000_000_000
    rows = []
    for _ in range(n):
        t += rnd.randint(0, 200)
        rows.append(Row(f"u{rnd.randint(0, 499)}", t, round(rnd.uniform(0, 100), 2)))
    result: dict[str, float] = {"events": n}
    run("baseline", rows[:1000])  # warm-up: JVM classes, the embedded interpreter
    for mode in ("baseline", "sql", "python"):
        result[f"{mode}_s"] = round(run(mode, rows), 3)
    sql_only = max(1e-3, result["sql_s"] - result["baseline_s"])
    py_only = max(1e-3, result["python_s"] - result["baseline_s"])
    result["python_over_sql_window_cost"] = round(py_only / sql_only, 1)
    result["python_over_sql_wall"] = round(result["python_s"] / result["sql_s"], 2)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
