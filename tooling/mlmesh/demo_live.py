"""The demo's console: the live line while it streams (records/s acknowledged
by ingest, documents embedded so far, how far the features and the embedder
are behind, read from Kafka every ``interval_s``), and library messages sent
to a log file instead of between its lines."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from mlmesh.chaos.drain import TOPICS, end_offsets, group_lags, lag_scan

WATCHED = {"features": "features-job", "embedder": "embedder"}


class LiveStatus(threading.Thread):
    """Polls the broker in the background; ``line()`` is the current status."""

    def __init__(self, bootstrap: str, interval_s: float = 2.0) -> None:
        super().__init__(name="demo-live", daemon=True)
        self.bootstrap, self.interval_s = bootstrap, interval_s
        self.stop = threading.Event()
        self.embedded = 0
        self.lags: dict[str, int] = {}
        self._base: int | None = None

    def run(self) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 3})
        scan = lag_scan(self.bootstrap, admin)
        try:
            self._watch(admin, scan)
        finally:
            scan.close()

    def _watch(self, admin: Any, scan: Any) -> None:
        while not self.stop.wait(self.interval_s):
            try:
                ends = end_offsets(admin, TOPICS)
                lags = group_lags(scan, ends)
            except Exception:  # a slow broker: keep the last figures
                continue
            written = sum(v for (t, _), v in ends.items() if t == "embeddings_written")
            if self._base is None:
                self._base = written
            self.embedded = written - self._base
            self.lags = {name: lags.get(group, 0) for name, group in WATCHED.items()}

    def line(self, sent: int, started: float) -> str:
        rate = sent / max(time.monotonic() - started, 1e-3)
        lag = ", ".join(f"{k} {v:,}" for k, v in self.lags.items()) or "..."
        return (f"{rate:,.0f} records/s, {self.embedded:,} documents embedded, "
                f"behind: {lag}")


def quiet_libraries(path: Path) -> Path:
    """This process's log records and Python warnings (pymilvus, Feast, gRPC's
    absl, ...) go to ``path``, not between the demo's lines."""
    import logging
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    import pymilvus  # noqa: F401  (configures its own console handlers on import)

    root = logging.getLogger()
    loggers = [root] + [lg for lg in logging.root.manager.loggerDict.values()
                        if isinstance(lg, logging.Logger) and lg.handlers]
    for logger in loggers:  # every console handler a library set up -> the file
        for old in [h for h in logger.handlers if isinstance(h, logging.StreamHandler)
                    and not isinstance(h, logging.FileHandler)]:
            logger.removeHandler(old)
            if logger is not root and not logger.handlers:
                logger.addHandler(handler)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    return path
