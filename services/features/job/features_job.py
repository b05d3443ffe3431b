"""mlmesh features job: per-user windowed features from Kafka, exactly once.

Runs on PyFlink's local mini-cluster (``python features_job.py``, in .venv-flink,
what ``FlinkJobComponent`` does), with ``flink run -py features_job.py`` on a
cluster, or under the Flink Kubernetes Operator (see services/features/README.md).

Pipeline: Kafka (SQL source, raw bytes, per-partition watermarks on the record
timestamp) -> Python decode (thread mode; bad payloads -> ``<topic>.dlq``) ->
SQL: late filter (``CURRENT_WATERMARK``; late -> DLQ, ``late_event``), dedup by
event_id (keyed state, TTL > 24 h), HOP / SESSION / OVER windows -> Python
encode to FeatureUpdate (+ zero rows for idle users) -> Kafka ``feature_updates``
with the exactly-once (transactional) sink. RocksDB state, checkpoints with
the source offsets, restore with ``--restore PATH``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import DataTypes, Schema, StreamTableEnvironment

from features.catalog import (
    ACTIVITY_1H,
    ACTIVITY_5M,
    ACTIVITY_24H,
    DOCUMENTS_1H,
)
from features.job import functions as fn
from features.job import sql
from features.job.args import parse_args
from features.job.checkpoints import KafkaIdentityMismatch, guard_restore
from features.tiles import RETENTION_MS
from mlmesh import ids

log = logging.getLogger("features.job")
OUT_ROW = fn.KV


def on_time(args: argparse.Namespace) -> str:
    """The SQL condition of a counted (not late) record in this mode."""
    return sql.retained(RETENTION_MS) if args.mode == "tiles" else sql.ON_TIME


def jvm_tmpdir(args: argparse.Namespace) -> None:
    """The gateway JVM's java.io.tmpdir in the job's tmp dir: the table planner
    loader unpacks a 44 MB jar there at every start, which a SIGKILLed JVM never
    deletes (the launcher clears the tmp dir at start). Before the first Java object."""
    if args.tmp_dir:
        tmp = Path(args.tmp_dir).resolve()
        tmp.mkdir(parents=True, exist_ok=True)
        os.environ["JVM_ARGS"] = f"{os.environ.get('JVM_ARGS', '')} -Djava.io.tmpdir={tmp}".strip()


def flink_config(args: argparse.Namespace) -> Configuration:
    conf = Configuration()
    ckpt = Path(args.checkpoint_dir).resolve().as_uri()
    settings = {
        "python.execution-mode": "thread",
        # The embedded interpreter (pemja) must be this venv's, not PATH's python.
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "parallelism.default": str(args.parallelism),
        "state.backend.type": "rocksdb",
        "execution.checkpointing.incremental": "true",
        "execution.checkpointing.dir": ckpt,
        "execution.checkpointing.savepoint-dir": ckpt + "/savepoints",
        "execution.checkpointing.interval": f"{args.checkpoint_interval_ms}ms",
        "execution.checkpointing.min-pause": f"{max(50, args.checkpoint_interval_ms // 5)}ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.unaligned.enabled":
            str(args.unaligned_checkpoints == "on").lower(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "3",
        "execution.checkpointing.timeout": "120s",
        "restart-strategy.type": "exponential-delay",
        "pipeline.name": "mlmesh-features",
        # SQL operators are built for reused records: no defensive copy per hop
        "pipeline.object-reuse": "true",
        # window/dedup state stays in RocksDB; the (few, short-lived) timers sit on
        # the heap, still in every checkpoint
        "state.backend.rocksdb.timer-service.factory": "HEAP",
        # every checkpoint (2 a second) flushes the memtables into new files; the
        # dedup keys (event ids) span the whole key range, so level compaction
        # rewrote most of the state each time: universal compaction took the
        # compaction threads from ~30 % to ~6-12 % of the job's CPU while it reads
        # live (features README, "Throughput")
        "state.backend.rocksdb.compaction.style": "UNIVERSAL",
        "table.local-time-zone": "UTC",
        "table.exec.state.ttl": f"{args.dedup_ttl_h} h",
        "table.exec.source.idle-timeout": f"{args.idle_timeout_ms} ms",
        "pipeline.auto-watermark-interval": "100ms",
        "execution.buffer-timeout.interval": f"{args.buffer_timeout_ms}ms",
    }
    if args.tmp_dir:  # created by jvm_tmpdir, before the first Java object
        settings["io.tmp.dirs"] = str(Path(args.tmp_dir).resolve())
    if args.rest_port:
        # in a container (MLMESH_BIND_ALL=1) the REST API must be reachable from
        # outside it, as every mesh service's ports are
        bind = "0.0.0.0" if args.bind_all else "127.0.0.1"
        settings.update({"rest.port": str(args.rest_port), "rest.address": "127.0.0.1",
                         "rest.bind-address": bind})
    if args.restore:
        settings["execution.state-recovery.path"] = str(Path(args.restore).resolve())
    jars = [Path(j).resolve().as_uri() for j in (args.connector_jar, args.functions_jar) if j]
    if jars:
        settings["pipeline.jars"] = ";".join(jars)
    for item in args.flink_conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--flink-conf: expected KEY=VALUE, got {item!r}")
        settings[key.strip()] = value.strip()
    for key, value in settings.items():
        conf.set_string(key, value)
    return conf


@dataclass(frozen=True)
class Input:
    """One input topic: its source table, JVM decode function and columns."""

    name: str  # view prefix: "ue" (user events) or "doc"
    topic: str
    decode_fn: str
    id_col: str
    fields: tuple[tuple[str, Any], ...]  # decoded columns after the id, with types


EVENT_FIELDS = (("user_id", DataTypes.STRING()), ("ts", DataTypes.BIGINT()),
                ("slice_last", DataTypes.BIGINT()), ("action", DataTypes.INT()),
                ("amount", DataTypes.DOUBLE()))
DOC_FIELDS = EVENT_FIELDS[:3]


def events_input(args: argparse.Namespace) -> Input:
    """The user events topic as the job reads it."""
    return Input("ue", args.events_topic, "MLMESH_DECODE_USER_EVENT", "event_id", EVENT_FIELDS)


def register_functions(t_env: StreamTableEnvironment) -> None:
    """The JVM decode/encode functions (services/features/jvm), built with the
    mesh's id rule from ``mlmesh.ids`` so the rule is stated once."""
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm.org.mlmesh.features
    rule = (ids.ID_CHARS, ids.USER_ID_MAX, ids.USER_ID_RULE)
    functions = {"MLMESH_DECODE_USER_EVENT": jvm.DecodeUserEvent(*rule),
                 "MLMESH_DECODE_DOCUMENT": jvm.DecodeDocument(*rule),
                 "MLMESH_ENCODE_FEATURE_UPDATE": jvm.EncodeFeatureUpdate(),
                 sql.EPOCH_MS_FN: jvm.EpochMillis()}
    for name, function in functions.items():
        # PyFlink registers Java functions by class name only; these need
        # constructor arguments, so the instance goes to the Java API directly.
        t_env._j_tenv.createTemporarySystemFunction(name, function)


def input_view(t_env: StreamTableEnvironment, args: argparse.Namespace, inp: Input) -> str:
    """Source -> JVM decode -> a view ``<name>_events`` with ``rowtime`` (the
    payload's time, watermarks from the source) holding good records only;
    rejected and late records -> views for the DLQ sinks. Returns the view of
    on-time records."""
    bounded = (("scan.bounded.mode", "latest-offset"),) if args.bounded else ()
    src = sql.KafkaTable(f"{inp.name}_src", inp.topic, args.bootstrap,
                         bounded + args.kafka_security.connector_options())
    t_env.execute_sql(sql.source_ddl(src, args.group_id, args.out_of_orderness_ms,
                                   args.startup_mode))
    names = (inp.id_col, *(n for n, _ in inp.fields))
    decoded = t_env.to_data_stream(t_env.sql_query(sql.decoded_select(src.name, inp.decode_fn,
                                                                      names)))
    builder = (Schema.new_builder()
               .column("k", DataTypes.BYTES()).column("payload", DataTypes.BYTES())
               .column("part", DataTypes.INT()).column("off", DataTypes.BIGINT())
               .column("error_class", DataTypes.STRING()).column("reason", DataTypes.STRING())
               .column(inp.id_col, DataTypes.STRING()))
    for name, dtype in inp.fields:
        builder = builder.column(name, dtype)
    schema = (builder.column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(ts, 3)")
              .column_by_expression("proc", "PROCTIME()")
              .watermark("rowtime", "SOURCE_WATERMARK()").build())
    all_rows = f"{inp.name}_decoded"
    t_env.create_temporary_view(all_rows, t_env.from_data_stream(decoded, schema))
    bad = t_env.to_data_stream(t_env.sql_query(sql.bad_select(all_rows)))
    _dlq(t_env, bad.map(fn.RejectedToDeadLetter(inp.topic), output_type=OUT_ROW), f"{inp.name}_bad")
    good = f"{inp.name}_events"
    t_env.create_temporary_view(
        good, t_env.sql_query(f"SELECT * FROM {all_rows} WHERE error_class IS NULL"))
    late = t_env.to_data_stream(t_env.sql_query(sql.late_select(good, inp.id_col,
                                                                on_time(args))))
    retention = RETENTION_MS if args.mode == "tiles" else 0
    _dlq(t_env, late.map(fn.LateToDeadLetter(inp.topic, retention), output_type=OUT_ROW),
         f"{inp.name}_late")
    return good


def _dlq(t_env: StreamTableEnvironment, stream: object, name: str) -> None:
    kv = Schema.new_builder().column("k", DataTypes.BYTES()).column("v", DataTypes.BYTES()).build()
    t_env.create_temporary_view(name, t_env.from_data_stream(stream, kv))


def deduplicated_view(t_env: StreamTableEnvironment, events: str, name: str,
                      condition: str = sql.ON_TIME, inp: Input | None = None) -> None:
    """View ``name``: the on-time ``events``, first arrival per id (event_id;
    ``inp``'s id for another input). Deduplicated once for every window:
    through a DataStream, so that the planner cannot push each window's own
    projection below the dedup and build one dedup (with its own state) per
    projection. ``proc`` is the processing time after the dedup."""
    id_col, fields = (inp.id_col, inp.fields) if inp else ("event_id", EVENT_FIELDS)
    cols = [(id_col, DataTypes.STRING()), *(f for f in fields if f[0] != "slice_last")]
    deduped = t_env.to_data_stream(t_env.sql_query(sql.dedup_view(
        events, condition, id_col, ", ".join(c for c, _ in cols))))
    schema = Schema.new_builder()
    for col, dtype in cols:
        schema = schema.column(col, dtype)
    schema = (schema.column("rowtime", DataTypes.TIMESTAMP_LTZ(3))
              .column_by_expression("proc", "PROCTIME()")
              .watermark("rowtime", "SOURCE_WATERMARK()"))
    t_env.create_temporary_view(name, t_env.from_data_stream(deduped, schema.build()))


def tile_parts(t_env: StreamTableEnvironment, args: argparse.Namespace,
               views: dict[str, str], inputs: list[Input]) -> list[str]:
    """Tiles mode: per-user minute-tile deltas of events (and documents,
    each counted once by doc_id)."""
    cond = on_time(args)
    deduplicated_view(t_env, views["ue"], "events_ok", cond)
    t_env.create_temporary_view("events_tiled", t_env.sql_query(
        sql.tiled("events_ok", "user_id, ts, action, amount")))
    parts = [sql.event_tile_deltas("events_tiled", args.emit_interval_ms)]
    if not args.no_documents:
        deduplicated_view(t_env, views["doc"], "docs_ok", cond, inputs[1])
        t_env.create_temporary_view("docs_tiled", t_env.sql_query(
            sql.tiled("docs_ok", "user_id, ts")))
        parts.append(sql.document_tile_deltas("docs_tiled", args.emit_interval_ms))
    return parts


def window_parts(t_env: StreamTableEnvironment, args: argparse.Namespace,
                 views: dict[str, str]) -> list[str]:
    """Windows mode (the baseline): window results on window close."""
    deduplicated_view(t_env, views["ue"], "events_ok")
    parts = [sql.activity_5m("events_ok"), sql.activity_1h("events_ok"),
             sql.activity_24h("events_ok"), sql.sessions("events_ok", args.session_gap_s)]
    parts += [sql.zero_rows("events_ok", v) for v in (ACTIVITY_5M, ACTIVITY_1H, ACTIVITY_24H)]
    if not args.no_documents:
        t_env.create_temporary_view(
            "docs_ok", t_env.sql_query(f"SELECT doc_id, user_id, ts, rowtime FROM {views['doc']} "
                                       f"WHERE {sql.ON_TIME}"))
        parts += [sql.documents_1h("docs_ok"), sql.zero_rows("docs_ok", DOCUMENTS_1H)]
    return parts


def build(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment,
          args: argparse.Namespace) -> None:
    register_functions(t_env)
    inputs = [events_input(args)]
    if not args.no_documents:
        inputs.append(Input("doc", args.documents_topic, "MLMESH_DECODE_DOCUMENT", "doc_id",
                            DOC_FIELDS))
    views = {inp.name: input_view(t_env, args, inp) for inp in inputs}
    parts = (tile_parts(t_env, args, views, inputs) if args.mode == "tiles"
             else window_parts(t_env, args, views))
    t_env.create_temporary_view(
        "window_results", t_env.sql_query("\nUNION ALL\n".join(f"({p})" for p in parts)))
    t_env.create_temporary_view(
        "feature_rows", t_env.sql_query(sql.encoded_select("window_results",
                                                           "MLMESH_ENCODE_FEATURE_UPDATE")))
    sinks = [("fu_sink", args.output_topic, "fu", "feature_rows")]
    for inp in inputs:
        dlq = f"{inp.topic}.dlq"
        sinks += [(f"{inp.name}_dlq_sink", dlq, f"{inp.name}-dlq", f"{inp.name}_bad"),
                  (f"{inp.name}_late_sink", dlq, f"{inp.name}-late", f"{inp.name}_late")]
    stmts = t_env.create_statement_set()
    for table, topic, suffix, view in sinks:
        t_env.execute_sql(sql.sink_ddl(sql.KafkaTable(table, topic, args.bootstrap,
                                                      args.kafka_security.connector_options()),
                                       f"{args.txn_prefix}-{suffix}", args.txn_timeout_ms))
        stmts.add_insert_sql(f"INSERT INTO {table} SELECT k, v FROM {view}")
    stmts.attach_as_datastream()


def embedded_python_path() -> None:
    """Thread mode embeds CPython (pemja) in the JVM; that interpreter does not
    see this venv's site-packages unless PYTHONPATH names them (the JVM is
    started from here and inherits the environment)."""
    import site

    paths = [*site.getsitepackages(), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    paths += [p for p in sys.path if p and p not in paths and os.path.isdir(p)]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format='{"level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}')
    args = parse_args(argv)
    if args.cluster_role:  # a container of a session cluster, not the mini-cluster
        from features.job.cluster import main as cluster_main

        return cluster_main(args.settings)
    sources = [args.events_topic] + ([] if args.no_documents else [args.documents_topic])
    try:
        checked = guard_restore(args.bootstrap, sources, Path(args.checkpoint_dir), args.restore,
                                ignore=args.ignore_kafka_identity,
                                extra=args.kafka_security.librdkafka())
    except KafkaIdentityMismatch as exc:
        log.error("%s", exc)
        return 2
    log.info("checkpoints: %s", checked)
    embedded_python_path()
    jvm_tmpdir(args)
    env = StreamExecutionEnvironment.get_execution_environment(flink_config(args))
    t_env = StreamTableEnvironment.create(env)
    build(env, t_env, args)
    log.info("features job starting (restore=%s)", args.restore or "none")
    env.execute("mlmesh-features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
