"""Features state benchmark -> bench/results/features_state.json.

The tiles job and the writer (SQLite) under a steady live load for
MLMESH_BENCH_STATE_MINUTES (30) at MLMESH_BENCH_STATE_RATE events/s (2,000;
1,000 users, event time = the moment of producing); every 30 s: the job's
resident memory (the launcher and its JVM), its RocksDB files (the dedup by
event_id, TTL 26 h: the job's only long-lived state) and the online store's
file. At the end, the online bytes per active user (every encoded
``user_tiles`` row) and RocksDB bytes per event seen (the dedup keys).
Tiles older than the largest window leave each user's row, so the online
store stops growing once every user's 24 h of tiles has filled; in a 30-minute
run the row grows for the first hour of minute tiles, so the figure to watch
is bytes per active user against the number of minute tiles held.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in ("", "lib", "tooling", "gen/python", "services", "tests/integration/features"):
    sys.path.insert(0, str(ROOT / _p))

from bench.common import broker, tree_rss_bytes, write  # noqa: E402
from bench.features_fresh import produce, tiles_job  # noqa: E402


def _dir_bytes(path: Path, pattern: str = "*") -> int:
    return sum(f.stat().st_size for f in path.rglob(pattern) if f.is_file()) if path.exists() \
        else 0


def _writer(bootstrap: str, topic: str, state_dir: str, stop: Any, out: Any) -> None:
    """The real writer loop (SQLite); puts the encoded row bytes of every user."""
    from features.settings import Settings as WriterSettings
    from features.store import FeastStore
    from features.tile_store import TileStore, encode_row
    from features.writer.app import BatchWriter
    from mlmesh.common.lifecycle import StopSignal
    from mlmesh.kafka.config import consumer_config, producer_config
    from mlmesh.kafka.producer import MeshProducer
    from mlmesh.kafka.sink import SinkLoop

    settings = WriterSettings()
    store = FeastStore(Path(state_dir))
    store.open()
    tiles = TileStore(store, settings.session_gap_s * 1000)
    users: set[str] = set()
    signal = StopSignal()
    loop = SinkLoop(consumer_config=consumer_config(bootstrap, f"sw-{uuid.uuid4().hex[:6]}",
                                                    "bench-writer"),
                    topics=[topic], handle_batch=BatchWriter(
                        store, tiles=tiles,
                        on_tiles=lambda ds, _v: users.update(d.user_id for d in ds)),
                    service="bench", stop=signal,
                    dlq_producer=MeshProducer(producer_config(bootstrap, "b")),
                    batch_size=settings.batch_size, poll_timeout=settings.poll_timeout_s)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    stop.wait()
    signal.set()
    thread.join(30)
    states = tiles.read(sorted(users))
    sizes = [(sum(len(v.SerializeToString()) for v in encode_row(s, tiles.gap_ms).values()),
              len(s.minute), len(s.hour)) for s in states.values() if s is not None]
    out.put(sizes)


def run(bootstrap: str, minutes: float, rate: float) -> dict[str, Any]:
    from features_scenario import Topics

    topics = Topics(f"state{uuid.uuid4().hex[:6]}")
    topics.create(bootstrap)
    state = Path(tempfile.mkdtemp(prefix="bench-state-"))
    comp = tiles_job(state, bootstrap, topics)
    comp.start(timeout=300)
    ctx = multiprocessing.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    writer = ctx.Process(target=_writer, args=(bootstrap, topics.out, str(state / "w"), stop, q))
    writer.start()
    samples: list[dict[str, Any]] = []
    produced = 0
    try:
        assert comp.pid is not None
        t0 = time.monotonic()
        while time.monotonic() - t0 < minutes * 60:
            produce(bootstrap, topics.events, int(rate * 30), produced, rate, seed=produced)
            produced += int(rate * 30)
            samples.append({"minute": round((time.monotonic() - t0) / 60, 2),
                            "events": produced,
                            "job_rss_mb": round(tree_rss_bytes(comp.pid) / 2**20),
                            "rocksdb_mb": round(_dir_bytes(comp.tmp_dir, "*.sst") / 2**20, 2),
                            "online_db_mb": round(_dir_bytes(state / "w", "online.db") / 2**20,
                                                  2)})
            sys.stderr.write(f"{samples[-1]}\n")
        stop.set()
        sizes = q.get(timeout=180)
        writer.join(30)
    finally:
        comp.stop()
    n = len(sizes)
    return {"minutes": minutes, "events_per_s": rate, "events": produced, "samples": samples,
            "active_users": n,
            "online_bytes_per_user": round(sum(s for s, _, _ in sizes) / n) if n else 0,
            "minute_tiles_per_user": round(sum(m for _, m, _ in sizes) / n, 1) if n else 0,
            "hour_tiles_per_user": round(sum(h for _, _, h in sizes) / n, 1) if n else 0,
            "rocksdb_bytes_per_event": round(samples[-1]["rocksdb_mb"] * 2**20 / produced, 1)
            if samples and produced else 0}


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    env = os.environ.get
    with broker() as bootstrap:
        result = run(bootstrap, float(env("MLMESH_BENCH_STATE_MINUTES", "30")),
                     float(env("MLMESH_BENCH_STATE_RATE", "2000")))
    path = write("features_state", result)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
