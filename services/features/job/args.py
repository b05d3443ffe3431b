"""The features job's command line: every flag's default is the environment's
value (:class:`features.job.settings.JobSettings`, the job's one reader of it);
a flag given wins."""

from __future__ import annotations

import argparse

from features.job.checkpoints import resolve_restore
from features.job.settings import JobSettings

DESCRIPTION = 'mlmesh features job: per-user windowed features from Kafka, exactly once.'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=DESCRIPTION)
    a = p.add_argument
    try:
        cfg = JobSettings()  # the environment's values: the flags' defaults
    except ValueError as exc:
        p.error(str(exc))
    a("--bootstrap", default=cfg.kafka_bootstrap)
    a("--events-topic", default=cfg.events_topic)
    a("--documents-topic", default=cfg.documents_topic)
    a("--output-topic", default=cfg.output_topic)
    a("--group-id", default=cfg.group_id)
    a("--startup-mode", default=cfg.startup_mode,
      help="where a job without a checkpoint starts: earliest-offset | latest-offset")
    a("--txn-prefix", default=cfg.txn_prefix)
    a("--txn-timeout-ms", type=int, default=cfg.txn_timeout_ms)
    a("--checkpoint-dir", default=cfg.checkpoint_dir)
    a("--tmp-dir", default=cfg.tmp_dir,
      help="the mini-cluster's working and spill directory (io.tmp.dirs; default: the "
           "system temp dir, where a killed mini-cluster leaves its RocksDB files behind)")
    a("--checkpoint-interval-ms", type=int, default=cfg.checkpoint_interval_ms,
      help="default: 350 with tiles (a delta is visible when the checkpoint after it "
           "commits; shorter costs more CPU than it saves on two cores: features "
           "README), 500 with windows")
    a("--out-of-orderness-ms", type=int, default=cfg.out_of_orderness_ms)
    a("--mode", choices=["tiles", "windows"], default=cfg.mode,
      help="tiles (default): per-user minute-tile deltas emitted every --emit-interval-ms "
           "of processing time, served as of the read time (features.tiles); windows: the "
           "earlier job, window results on window close (kept as a benchmark baseline)")
    a("--emit-interval-ms", type=int, default=cfg.emit_interval_ms,
      help="tiles: a delta per user and tile is emitted every this many ms")
    a("--buffer-timeout-ms", type=int, default=cfg.buffer_timeout_ms,
      help="longest a record waits in a network buffer between operators (Flink's "
           "execution.buffer-timeout.interval). Default: 10 with tiles, Flink's 100 with "
           "windows")
    a("--idle-timeout-ms", type=int, default=cfg.idle_timeout_ms,
      help="a partition idle this long drops out of the watermark (0: never). Default: "
           "10 s with tiles (the watermark only judges the 25 h retention, emission "
           "never waits for it); 0 with windows, where an idle partition's first "
           "records after a lull can reach a window the other partitions moved on, "
           "which drops them silently")
    a("--session-gap-s", type=int, default=cfg.session_gap_s)
    a("--dedup-ttl-h", type=int, default=cfg.dedup_ttl_h)
    a("--parallelism", type=int, default=cfg.parallelism)
    a("--rest-port", type=int, default=cfg.rest_port,
      help="mini-cluster REST API port (health probe); 0 = none requested")
    a("--restore", default=cfg.restore,
      help="checkpoint/savepoint dir to resume from; 'latest': the newest completed one "
           "under --checkpoint-dir, if any (a container restarted by its engine)")
    a("--connector-jar", default=cfg.connector_jar,
      help="flink-sql-connector-kafka jar (local mini-cluster; a cluster has it in lib/)")
    a("--functions-jar", default=cfg.functions_jar,
      help="mlmesh-features-functions jar, the JVM decode/encode (services/features/jvm; "
           "local mini-cluster; a cluster has it in lib/)")
    a("--no-documents", action="store_true", default=cfg.no_documents)
    a("--bounded", action="store_true", default=cfg.bounded,
      help="read each topic up to its latest offsets at start, then finish (a backfill, "
           "or a benchmark: every window fires at the end of the input)")
    a("--flink-conf", action="append", metavar="KEY=VALUE",
      default=[x for x in cfg.flink_conf.split(";") if x.strip()],
      help="a Flink configuration option over the job's own (repeatable; the env "
           "MLMESH_FEATURES_FLINK_CONF takes 'k=v;k=v')")
    a("--unaligned-checkpoints", choices=["on", "off"],
      default=cfg.unaligned_checkpoints,
      help="on (default): checkpoint barriers overtake queued records, so a burst of "
           "window results commits at the next checkpoint instead of after the whole "
           "burst (still exactly once)")
    args = p.parse_args(argv)
    args.restore = resolve_restore(args.restore, args.checkpoint_dir)
    args.kafka_security = cfg.connector_security()
    args.ignore_kafka_identity = cfg.ignore_kafka_identity
    args.bind_all = cfg.bind_all
    args.cluster_role = cfg.cluster_role
    args.settings = cfg  # a session cluster's container reads the rest from it
    tiles = args.mode == "tiles"
    for name, for_tiles, for_windows in (("idle_timeout_ms", 10_000, 0),
                                         ("checkpoint_interval_ms", 350, 500),
                                         ("buffer_timeout_ms", 10, 100)):
        if getattr(args, name) < 0:
            setattr(args, name, for_tiles if tiles else for_windows)
    return args
