"""The monitor's peers in bench/monitor.py, each a child process reading the
same ``predictions`` topic from the beginning with a fresh consumer group:

* ``faust_floor`` (this venv): faust on the monitor's own transport
  (read_committed, the offset-gap fix) with one agent that takes the records in
  the monitor's batches and does nothing with them: what faust's delivery alone
  costs, the ceiling of any monitor built on faust;
* ``quix`` (``.venv-peers``, ``make setup-peers``): Quix Streams doing the
  monitor's per-record work on the same records: decode PredictionMade, drop a
  request_id seen before and keep each user's last prediction (Quix state,
  RocksDB with its changelog topic, under the user_id message key), and fold
  the record into the per-model-version aggregate with the monitor's own code
  (``monitor.metrics.records.apply_prediction``: latency and score sketches,
  feature sketches for PSI, counts).

Each writes one JSON object to the file named by ``MLMESH_BENCH_RESULT``
(faust's worker takes over stdout): records/s from the first record taken to
the N-th done, and its CPU seconds.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = {"faust_floor": Path(sys.executable), "quix": ROOT / ".venv-peers" / "bin" / "python"}


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def child_start() -> tuple[str, str, int, str]:
    """A child's arguments (BOOTSTRAP TOPIC N GROUP); its logging to stderr."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


def run_child(peer: str, bootstrap: str, topic: str, n: int, timeout_s: float = 600
              ) -> dict[str, Any]:
    python = PYTHONS[peer]
    if not python.exists():
        return {"error": f"{python} missing: run `make setup-peers`"}
    with tempfile.TemporaryDirectory(prefix="mlmesh-monitor-peer-") as tmp:
        out_file = Path(tmp) / "result.json"
        env = dict(os.environ, MLMESH_BENCH_RESULT=str(out_file), PYTHONPATH=os.pathsep.join(
            str(p) for p in (ROOT, ROOT / "gen" / "python", ROOT / "services", ROOT / "lib")))
        cmd = [str(python), "-m", f"bench.monitor_peer_{peer}", bootstrap, topic, str(n),
               f"mlmesh-monitor-{peer}-{uuid.uuid4().hex[:8]}"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            _out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
            return {"error": f"timed out after {timeout_s} s", "stderr_tail": err[-2000:]}
        if not out_file.exists():
            return {"error": f"exit {proc.returncode}", "stderr_tail": err[-2000:]}
        result: dict[str, Any] = json.loads(out_file.read_text())
        return result
