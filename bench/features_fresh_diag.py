"""Where an event's time and the machine's CPU go in a live phase of
``bench/features_fresh.py``: Flink's checkpoint statistics (its REST API),
the writer's batch times, and the cores each part used (``/proc``)."""

from __future__ import annotations

import itertools
import json
import os
import resource
import threading
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import percentiles


def checkpoints(rest: str, stop: threading.Event,
                out: dict[int, tuple[float, float, bool]]) -> None:
    """The job's completed checkpoints from Flink's REST API into ``out``: id
    -> (completed wall ms, trigger -> acknowledged ms, failed), polled each 0.5 s (the
    history holds the last 10)."""
    while not stop.wait(0.5):
        try:
            with urllib.request.urlopen(f"{rest}/jobs/overview", timeout=2) as r:
                jobs = json.loads(r.read()).get("jobs", [])
            for job in jobs:
                with urllib.request.urlopen(f"{rest}/jobs/{job['jid']}/checkpoints",
                                            timeout=2) as r:
                    for c in json.loads(r.read()).get("history", []):
                        if c.get("status") in ("COMPLETED", "FAILED"):
                            out[int(c["id"])] = (float(c["latest_ack_timestamp"]
                                                       or c["trigger_timestamp"]),
                                                 float(c["end_to_end_duration"]),
                                                 c["status"] == "FAILED")
        except (OSError, ValueError, KeyError):
            continue


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (``/proc/stat``: all but
    idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    """This process's CPU seconds (the paced producer; the checkpoint poll is
    a small part)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def diagnosis(batches: list[tuple[float, float, int]],
               ckpts: dict[int, tuple[float, float, bool]],
               start_ms: float, end_ms: float, cpu_s: dict[str, float]) -> dict[str, Any]:
    """Where an event's time goes after the job emits it: checkpoints (a delta
    is committed, so readable, when the checkpoint after it completes), the
    writer (each batch's handling time, and how busy it was), and the CPU each
    part used (in cores: of the machine's ``os.cpu_count()``)."""
    part = [b for b in batches if start_ms <= b[0] < end_ms]
    spans = [b - a for a, b, _ in part]
    ck = sorted((t, d) for t, d, failed in ckpts.values() if start_ms <= t < end_ms
                and not failed)
    ids = [i for i, (t, _, _) in ckpts.items() if start_ms <= t < end_ms]
    unseen = (max(ids) - min(ids) + 1 - len(ids)) if ids else 0  # fell out of the history
    by_id = sorted((i, t) for i, (t, _, f) in ckpts.items() if start_ms <= t < end_ms and not f)
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(by_id) if b[0] == a[0] + 1]
    secs = (end_ms - start_ms) / 1000
    return {"checkpoints": len(ck),
            "checkpoints_unseen": unseen,
            "checkpoints_failed": sum(1 for t, _, f in ckpts.values() if f and start_ms <= t
                                      < end_ms),
            "checkpoint_duration_max_ms": max((d for _, d in ck), default=0.0),
            "checkpoint_spacing_max_ms": max(gaps, default=0.0),
            "checkpoint_duration_ms": {k: round(v, 1) for k, v in
                                       percentiles([d for _, d in ck], (50, 99)).items()},
            "checkpoint_spacing_ms": {k: round(v, 1) for k, v in
                                      percentiles(gaps, (50, 99)).items()},
            "writer_batches": len(part),
            "writer_batch_records": {k: round(v) for k, v in
                                     percentiles([n for *_, n in part], (50, 99)).items()},
            "writer_batch_ms": {k: round(v, 1) for k, v in percentiles(spans, (50, 99)).items()},
            "writer_busy_share": round(sum(spans) / 1000 / secs, 3),
            "cpu_cores": {**{k: round(v / secs, 2) for k, v in cpu_s.items()},
                          "broker_and_rest": round((2 * cpu_s["machine"] - sum(cpu_s.values()))
                                                   / secs, 2),
                          "of": os.cpu_count()}}
