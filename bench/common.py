"""Shared benchmark plumbing: a broker for the run, JSON output, percentiles."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def percentiles(values: Sequence[float], ps: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    if not values:
        return {f"p{int(p)}": float("nan") for p in ps}
    ordered = sorted(values)
    out = {}
    for p in ps:
        idx = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        out[f"p{int(p)}"] = ordered[idx]
    return out


def ratio(name: str, value: float, baseline: float, target: float | None,
          unit: str, higher_is_better: bool = True, note: str = "") -> dict[str, Any]:
    """One figure against its same-run baseline, with the target it is held to."""
    r = value / baseline if baseline else float("nan")
    passed = None if target is None else (r >= target if higher_is_better else r <= target)
    return {"name": name, "value": round(value, 3), "baseline": round(baseline, 3),
            "ratio": round(r, 4), "target": target, "pass": passed, "unit": unit, "note": note}


def machine() -> dict[str, Any]:
    """The host, and its 1-minute load average now (``write`` calls it as the
    run ends; result files before 2026-12-03 named that value
    ``loadavg_1m_at_start``, though it was taken at the end too)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {"host_cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg_1m": round(load[0], 2), "platform": platform.platform()}


def write(area: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"area": area, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), **payload}
    path = RESULTS / f"{area}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False))
    return path


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """``$MLMESH_BENCH_KAFKA_BOOTSTRAP`` if set, else a throw-away local broker."""
    given = os.environ.get("MLMESH_BENCH_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.kafka import KafkaComponent

    with tempfile.TemporaryDirectory(prefix="mlmesh-bench-") as tmp:
        comp = KafkaComponent(Path(tmp), port=free_port(), controller_port=free_port(),
                              heap="768m")
        comp.start(timeout=180)
        try:
            yield comp.bootstrap
        finally:
            comp.stop()


def java_tool(main: str, args: list[str], timeout: float = 600) -> str:
    """Run a Kafka perf tool from the kafka-perf jars; return its stdout."""
    from mlmesh.localstack.kafka import ensure_kafka_jars, java_bin

    jars = ensure_kafka_jars(perf=True)
    cmd = [java_bin(), "-Xmx512m", "-cp", f"{jars}/*", main, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return out.stdout


def _raw_consume_once(bootstrap: str, topic: str, n: int) -> float:
    """One pass over the topic's first ``n`` records: partitions assigned at
    the beginning (no group join in the timing), the clock started before the
    first fetch, a short consume() timeout (it waits for a full batch or the
    timeout). librdkafka postpones a partition's next fetch by
    ``fetch.queue.backoff.ms`` (1 s) once its prefetch queue is over
    ``queued.min.messages``: at the defaults most 200,000-record passes
    stalled a second and read ~181,000/s instead of 0.7-1.4 million/s."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "fetch.queue.backoff.ms": 5})
    parts = c.list_topics(topic, timeout=30).topics[topic].partitions
    got, t0 = 0, time.perf_counter()
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    while got < n:
        got += sum(1 for m in c.consume(10000, 0.01) if m.error() is None)
    rate = n / (time.perf_counter() - t0)
    c.close()
    return rate


def _proc_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, the stat fields after "(comm)") of every process (``/proc``)."""
    out: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[1]), fields)
    return out


def process_tree(pid: int, table: dict[int, tuple[int, list[str]]]) -> set[int]:
    """``pid`` and every descendant alive in ``table``."""
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, (parent, _) in table.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and every descendant
    alive now (a JVM started by a Python launcher, say): the difference over a
    phase is what the phase cost, whatever else the shared machine runs. Read
    from ``/proc`` (Linux), so that .venv-flink, which has no psutil, runs it
    too (bench/features_floor_job.py)."""
    table = _proc_table()
    tick = os.sysconf("SC_CLK_TCK")
    # after "(comm)": state, ppid, ..., utime and stime (the stat's 14th, 15th)
    return sum((int(table[p][1][11]) + int(table[p][1][12])) / tick
               for p in process_tree(pid, table) if p in table)


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and every descendant alive now (``/proc``;
    the stat's 24th field, in pages)."""
    table = _proc_table()
    page = os.sysconf("SC_PAGE_SIZE")
    return sum(int(table[p][1][21]) * page for p in process_tree(pid, table) if p in table)


def jit_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the HotSpot JIT compiler threads (named
    ``C1 CompilerThre...`` / ``C2 CompilerThre...`` by the OS) of a process
    and its live descendants: how far a JVM still is from JIT-steady. 0 where
    ``/proc`` has no thread names (not Linux)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.Error):
            for t in proc.threads():
                with contextlib.suppress(OSError):
                    name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text()
                    if name.startswith(("C1 CompilerThre", "C2 CompilerThre")):
                        total += t.user_time + t.system_time
    return total


def raw_consume_rate(bootstrap: str, topic: str, n: int,
                     runs: int = 3) -> tuple[float, list[float]]:
    """Median of ``runs`` passes (and every pass, for the record)."""
    rates = [_raw_consume_once(bootstrap, topic, n) for _ in range(runs)]
    return sorted(rates)[len(rates) // 2], rates


def until(pred: Callable[[], object], timeout: float, interval: float = 0.1) -> float | None:
    """Seconds until ``pred()`` held (None: not within ``timeout``); a probe
    that raises counts as not yet (a server busy failing over)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if pred():
                return time.monotonic() - t0
        except Exception:  # not answering yet
            pass
        time.sleep(interval)
    return None
