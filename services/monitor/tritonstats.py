"""Triton's compute time per model version, for the cost per prediction.

Every ``triton_interval_s`` the monitor reads Triton's statistics of the
scoring model (``GET /v2/models/<model>/stats``: one entry per loaded version)
and keeps, per version, the cumulative inference count and compute time. The
compute time is the sum over ``batch_stats`` of input, infer and output time:
Triton records those once per *execution*, so a batch of 32 requests counts
its compute once (the per-request ``inference_stats.compute_*`` would count it
32 times under dynamic batching). :meth:`TritonCompute.compute_ms` gives a
version's compute over a time range from the readings that bracket it, which
the monitor divides by the predictions its table counted for that version in
the same range.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Fetch = Callable[[str, float], Mapping[str, Any]]


@dataclass(frozen=True)
class Reading:
    at: float
    inferences: int
    compute_ns: int


def execution_compute_ns(version_stats: Mapping[str, Any]) -> int:
    """Input + infer + output nanoseconds over every batch size of one version."""
    total = 0
    for b in version_stats.get("batch_stats") or ():
        for part in ("compute_input", "compute_infer", "compute_output"):
            total += int((b.get(part) or {}).get("ns", 0))
    return total


def _http_json(url: str, timeout: float) -> Mapping[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        doc: Mapping[str, Any] = json.load(resp)
        return doc


@dataclass
class TritonCompute:
    url: str  # Triton's HTTP endpoint, e.g. http://127.0.0.1:8000
    model: str
    keep_s: float = 3600.0
    timeout_s: float = 2.0
    fetch: Fetch = _http_json
    readings: dict[str, deque[Reading]] = field(default_factory=dict)
    error: str = ""
    # poll() runs in an executor thread, the readers on the event loop
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def poll(self, now: float) -> None:
        """One reading per loaded version; a failed read is kept in ``error``
        (the cost then lacks the model's part for the time it lasts)."""
        try:
            doc = self.fetch(f"{self.url.rstrip('/')}/v2/models/{self.model}/stats",
                             self.timeout_s)
        except Exception as exc:  # Triton down or restarting: not the monitor's failure
            if not self.error:
                log.warning("triton statistics unavailable", extra={"error": str(exc)})
            self.error = str(exc)
            return
        if self.error:
            log.info("triton statistics readable again", extra={"model": self.model})
        self.error = ""
        with self.lock:
            self._add(doc, now)

    def _add(self, doc: Mapping[str, Any], now: float) -> None:
        for v in doc.get("model_stats") or ():
            if v.get("name") != self.model:
                continue
            series = self.readings.setdefault(str(v.get("version", "")), deque())
            reading = Reading(now, int(v.get("inference_count", 0)), execution_compute_ns(v))
            if series and reading.inferences < series[-1].inferences:
                series.clear()  # the version was reloaded: its counters restarted
            series.append(reading)
            while series and series[0].at < now - self.keep_s:
                series.popleft()

    def covers(self, version: str, since: float) -> bool:
        """Whether readings of ``version`` go back to ``since``."""
        with self.lock:
            series = self.readings.get(version)
            return bool(series) and series[0].at <= since  # type: ignore[index]

    def compute_ms(self, since: float, until: float) -> dict[str, float]:
        """Per version, Triton's compute in ``(since, until]``: the difference
        between the last readings at or before each end (the first reading
        stands in for ``since`` when the series starts later)."""
        out: dict[str, float] = {}
        with self.lock:
            copy = {version: list(series) for version, series in self.readings.items()}
        for version, series in copy.items():
            before = [r for r in series if r.at <= until]
            if len(before) < 2:
                continue
            start = next((r for r in reversed(before) if r.at <= since), before[0])
            out[version] = (before[-1].compute_ns - start.compute_ns) / 1e6
        return out
