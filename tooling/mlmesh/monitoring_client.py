"""Client of the monitor's HTTP API (stdlib only, safe to import anywhere).

``headline(url)`` is what ``mlmesh status`` shows; ``alerts(url)`` what
``mlmesh alerts`` lists. Both never raise on a monitor that is down: they
return ``{"ok": False, "error": ...}``. ``url`` may list the replicas'
dashboards, comma-separated: the first that answers (the active replica; a
standby answers 503) is used.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from mlmesh.common import ports

DEFAULT_URL = f"http://127.0.0.1:{ports.MONITOR_HTTP}"


def default_url() -> str:
    """``$MLMESH_MONITOR_URL`` or the monitor's default address."""
    return os.environ.get("MLMESH_MONITOR_URL", DEFAULT_URL).rstrip("/")


def _get(urls: str, path: str, timeout: float) -> tuple[str, dict[str, Any]]:
    """(the base URL that answered, its JSON) from the first of ``urls`` that
    answers ``path``; the last error when none does."""
    error: Exception = ValueError(f"no monitor URL in {urls!r}")
    for url in (u.strip().rstrip("/") for u in urls.split(",") if u.strip()):
        try:
            with urllib.request.urlopen(url + path, timeout=timeout) as resp:
                data: dict[str, Any] = json.loads(resp.read())
            return url, data
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = exc
    raise error


def headline(monitor_url: str | None = None, timeout: float = 3.0) -> dict[str, Any]:
    """The monitor's headline numbers: worst p95 latency (ms), error rate, max
    consumer lag, feature freshness p99 (ms), doc->searchable p99 (ms), max PSI,
    worst AUC/accuracy, cost per 1k predictions/documents, cache hit rate,
    active alerts. Keys are absent when the monitor has no data for them."""
    url = (monitor_url or default_url()).rstrip("/")
    try:
        url, data = _get(url, "/api/summary?headline=1", timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"ok": False, "url": url, "error": str(exc)}
    out: dict[str, Any] = {"ok": bool(data.get("ready")), "url": url,
                           "generated_at": data.get("generated_at")}
    out.update(data.get("headline") or {})
    return out


def alerts(monitor_url: str | None = None, timeout: float = 3.0) -> dict[str, Any]:
    """``{"ok": True, "firing": [...], "recent": [...]}`` from the monitor."""
    url = (monitor_url or default_url()).rstrip("/")
    try:
        url, data = _get(url, "/api/alerts", timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"ok": False, "url": url, "error": str(exc), "firing": [], "recent": []}
    return {"ok": True, "url": url, "firing": data.get("firing", []),
            "recent": data.get("recent", [])}
