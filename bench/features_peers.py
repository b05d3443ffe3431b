"""Peer stream processors doing the features job's tile work, over one Kafka topic.

Usage::

    python bench/features_peers.py --bootstrap HOST:PORT --topic TOPIC --events N \
        [--peers quix,bytewax] [--timeout-s 600] [--no-dedup]

Prints one JSON line: per peer ``events_per_s``, ``seconds``, ``cpu_s``,
``state``, ``dedup``, ``notes`` (and the counts and totals behind them).

What is measured: each peer (Quix Streams, Bytewax) runs in a child process of
``.venv-peers`` (``make setup-peers``), reads TOPIC from the beginning (a fresh
consumer group; Bytewax assigns partitions itself and ignores groups) and stops
cleanly after it has consumed N records. ``seconds`` runs from the first record
seen by the pipeline to the N-th record leaving it (aggregated, or dropped as a
duplicate); ``events_per_s = N / seconds``. ``cpu_s`` is the child's own CPU
(user + system, every thread, ``getrusage(RUSAGE_SELF)``) over that same span;
``cpu_s_process`` is the whole child (start-up, imports, rebalance, shutdown),
from this process's ``RUSAGE_CHILDREN`` delta. Peers run one after the other.
Both consumers fetch in the background (librdkafka), so records can already be
buffered when the span starts: it times processing, not the consumer's start.
Not part of ``make bench``; nothing is written under bench/results.

The work, as the Flink tiles job (services/features/job) does it: decode each
``UserEvent`` protobuf (event_id, user_id, event_time, action, amount), key by
user_id, drop repeated event_ids (keyed state; ``--no-dedup`` turns it off),
and keep per (user, 1-minute event-time tile ``ts - ts % 60000``) the count,
the amount sum and the 7 per-action counts, and per (user, 1-hour tile) the
count, amount sum and purchases (action 4), emitting the updated aggregates
for every event. Events up to 25 h behind the newest (the job's retention) count.

What differs from the job: the peers emit one update per event and window (Quix
``tumbling_window(...).reduce(...).current()``; Bytewax one ``stateful_map`` per
user holding both tile maps) where the job emits one delta per (user, minute
tile) every 200 ms of processing time, and the hour tiles are folded by the
job's feature writer, not the job. Outputs are not written to Kafka: each peer's
sink keeps the last value per (user, tile) in memory (whose totals are reported
to check the peers against each other) and discards the rest. Both peers run
one process, one worker, at-least-once (the job: exactly-once, checkpointed);
Quix keeps its state in RocksDB with a changelog topic, Bytewax in memory
without recovery. Dead-letter routing of bad or late records is not reproduced
(bad records would fail the peer; none are late within 25 h).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEERS = ("quix", "bytewax")

TILE_MS = 60_000
HOUR_TILE_MS = 3_600_000
# features.tiles.RETENTION_MS: an event this far behind the newest still counts.
RETENTION_MS = 25 * HOUR_TILE_MS
ACTIONS = 7
PURCHASE = 4

# A decoded UserEvent: (event_id, user_id, event_time_ms, action, amount).
Event = tuple[str, str, int, int, float]
ID: Final = 0
USER: Final = 1
TS: Final = 2
ACTION: Final = 3
AMOUNT: Final = 4


# ---------------------------------------------------------------- shared by the children
def decoder() -> Callable[[bytes], Event]:
    """A UserEvent decoder (the stubs under gen/python must be importable)."""
    from mlmesh.events.v1.user_event_pb2 import UserEvent

    msg = UserEvent()

    def decode(raw: bytes) -> Event:
        msg.ParseFromString(raw)
        t = msg.event_time
        return (msg.event_id, msg.user_id, t.seconds * 1000 + t.nanos // 1_000_000,
                msg.action, msg.amount)

    return decode


def minute_new(ev: Event) -> list[float]:
    """A minute tile's first aggregate: [count, amount, action 1 .. action 7]."""
    agg = [1.0, ev[AMOUNT], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    if 1 <= ev[ACTION] <= ACTIONS:
        agg[1 + ev[ACTION]] = 1.0
    return agg


def minute_add(agg: list[float], ev: Event) -> list[float]:
    agg[0] += 1
    agg[1] += ev[AMOUNT]
    if 1 <= ev[ACTION] <= ACTIONS:
        agg[1 + ev[ACTION]] += 1
    return agg


def hour_new(ev: Event) -> list[float]:
    """An hour tile's first aggregate: [count, amount, purchases]."""
    return [1.0, ev[AMOUNT], 1.0 if ev[ACTION] == PURCHASE else 0.0]


def hour_add(agg: list[float], ev: Event) -> list[float]:
    agg[0] += 1
    agg[1] += ev[AMOUNT]
    if ev[ACTION] == PURCHASE:
        agg[2] += 1
    return agg


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Meter:
    """Counts a child's records and times the span from the first one taken to
    the N-th one completed; its sink keeps the last aggregate per (user, tile)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.taken = 0
        self.completed = 0
        self.accepted = 0
        self.duplicates = 0
        self.t0 = self.t1 = 0.0
        self.cpu0 = self.cpu1 = 0.0
        self.minute: dict[tuple[str, int], Any] = {}
        self.hour: dict[tuple[str, int], Any] = {}

    @property
    def done(self) -> bool:
        return self.completed >= self.n

    def take(self) -> bool:
        """Whether the pipeline takes one more record (False once N are in)."""
        if self.taken >= self.n:
            return False
        self.taken += 1
        if self.taken == 1:
            self.t0, self.cpu0 = time.perf_counter(), _cpu_self()
        return True

    def complete(self, duplicate: bool = False) -> bool:
        """A taken record left the pipeline; True when it was the N-th."""
        if duplicate:
            self.duplicates += 1
        else:
            self.accepted += 1
        self.completed += 1
        if self.completed == self.n:
            self.t1, self.cpu1 = time.perf_counter(), _cpu_self()
            return True
        return False

    def result(self, **extra: Any) -> dict[str, Any]:
        seconds = self.t1 - self.t0 if self.done else float("nan")

        def totals(tiles: dict[tuple[str, int], Any]) -> dict[str, Any]:
            return {"tiles": len(tiles), "events": int(sum(a[0] for a in tiles.values())),
                    "amount": round(sum(a[1] for a in tiles.values()), 2)}

        return {"events": self.completed, "events_per_s": round(self.n / seconds, 1),
                "seconds": round(seconds, 3), "cpu_s": round(self.cpu1 - self.cpu0, 3),
                "accepted": self.accepted, "duplicates": self.duplicates,
                "totals": {"minute": totals(self.minute), "hour": totals(self.hour)}, **extra}


def versions(*dists: str) -> dict[str, str]:
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = "missing"
    return out


def child_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The children's command line (set by :func:`run_peer`)."""
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--no-dedup", dest="dedup", action="store_false")
    return p.parse_args(argv)


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- the parent
def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_peer(peer: str, args: argparse.Namespace) -> dict[str, Any]:
    """One peer in its own child process; its result, or an ``error``."""
    python = Path(args.python)
    if not python.exists():
        return {"error": f"{python} missing: run `make setup-peers`"}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "gen" / "python")]))
    cmd = [str(python), "-m", f"bench.features_peers_{peer}", "--bootstrap", args.bootstrap,
           "--topic", args.topic, "--events", str(args.events),
           "--group", f"mlmesh-peers-{peer}-{uuid.uuid4().hex[:8]}"]
    if not args.dedup:
        cmd.append("--no-dedup")
    cpu0, wall0 = _cpu_children(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=args.timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return {"error": f"timed out after {args.timeout_s} s", "stderr_tail": err[-2000:]}
    process = {"cpu_s_process": round(_cpu_children() - cpu0, 3),
               "wall_s_process": round(time.perf_counter() - wall0, 3)}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}", "stderr_tail": err[-2000:], **process}
    return {**json.loads(lines[-1]), **process}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap HOST:PORT")
    p.add_argument("--topic", required=True, help="topic of UserEvent records keyed by user_id")
    p.add_argument("--events", type=int, required=True, help="records each peer consumes")
    p.add_argument("--peers", default=",".join(PEERS), help="comma-separated: quix,bytewax")
    p.add_argument("--timeout-s", type=float, default=600.0, help="per peer")
    p.add_argument("--no-dedup", dest="dedup", action="store_false",
                   help="do not drop repeated event_ids")
    p.add_argument("--python", default=str(PEERS_PYTHON), help="the peers' interpreter")
    args = p.parse_args(argv)
    peers = [x.strip() for x in args.peers.split(",") if x.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        p.error(f"unknown peers {unknown}; choose from {list(PEERS)}")
    if args.events <= 0:
        p.error("--events must be positive")
    results = {peer: run_peer(peer, args) for peer in peers}
    emit(results)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
