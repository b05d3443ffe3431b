"""faust's delivery alone (bench/monitor_peers.py): the monitor's transport
(monitor.seek.MonitorApp: read_committed, the offset-gap fix), one agent taking
the records in the monitor's batches (``take_events(2000, within=0.25)``) and
doing nothing with them: ``python -m bench.monitor_peer_faust_floor BOOTSTRAP
TOPIC N GROUP``. Writes its JSON result (``MLMESH_BENCH_RESULT``) and exits
once N records are through."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import faust

from bench.monitor_peers import child_start, cpu_seconds
from monitor.seek import MonitorApp


def main() -> None:
    bootstrap, topic_name, n, group = child_start()
    meter: dict[str, Any] = {"done": 0}
    with tempfile.TemporaryDirectory(prefix="mlmesh-faust-floor-") as datadir:
        app = MonitorApp(group, broker=f"kafka://{bootstrap}", store="memory://",
                         datadir=datadir, web_enabled=False, topic_partitions=1,
                         broker_commit_interval=2.0, consumer_auto_offset_reset="earliest",
                         autodiscover=False)
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

        @app.agent(topic, name="floor")
        async def floor(stream: Any) -> None:
            async for events in stream.take_events(2000, within=0.25):
                if not meter["done"]:
                    meter["t0"], meter["cpu0"] = time.perf_counter(), cpu_seconds()
                meter["done"] += len(events)
                if meter["done"] >= n:
                    seconds = time.perf_counter() - meter["t0"]
                    Path(os.environ["MLMESH_BENCH_RESULT"]).write_text(json.dumps({
                        "records": meter["done"],
                        # the first batch's records were taken before the clock started
                        "records_per_s": round((meter["done"] - len(events)) / seconds, 1)
                        if seconds > 0 else None,
                        "seconds": round(seconds, 3),
                        "cpu_s": round(cpu_seconds() - meter["cpu0"], 3),
                        "notes": "faust-streaming on the monitor's transport; "
                                 "take_events(2000, 0.25); no work per record"}))
                    os._exit(0)  # a bench child: nothing to commit or close

        faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
