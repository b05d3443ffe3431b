"""HTTP endpoint on the metrics port: ``/metrics`` (Prometheus text from the
OpenTelemetry reader), ``/healthz`` (the process and its loop are alive) and
``/readyz`` (200 only when Kafka, Triton and Milvus all answer)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

Probe = Callable[[], bool]


class Readiness:
    """Runs the dependency probes, at most once per ``ttl_s`` (cached)."""

    def __init__(self, probes: Mapping[str, Probe], ttl_s: float = 1.0) -> None:
        self.probes = dict(probes)
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = 0.0
        self._last: dict[str, bool] = {}

    def check(self) -> dict[str, bool]:
        with self._lock:
            if time.monotonic() - self._at < self.ttl_s and self._last:
                return dict(self._last)
            result: dict[str, bool] = {}
            for name, probe in self.probes.items():
                try:
                    result[name] = bool(probe())
                except Exception:
                    result[name] = False
            self._last, self._at = result, time.monotonic()
            return dict(result)


class HealthServer:
    def __init__(self, host: str, port: int, readiness: Readiness,
                 alive: Callable[[], bool], details: Callable[[], dict[str, object]]) -> None:
        self.readiness = readiness
        self.alive = alive
        self.details = details
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="embedder-http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("health/metrics endpoint", extra={"port": self.port})

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

            self._reply(req, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok = self.alive()
            body = {"status": "ok" if ok else "stopped", **self.details()}
            self._reply(req, 200 if ok else 503, json.dumps(body).encode())
        elif path == "/readyz":
            checks = self.readiness.check()
            ok = self.alive() and all(checks.values())
            body = {"ready": ok, "checks": checks}
            self._reply(req, 200 if ok else 503, json.dumps(body).encode())
        else:
            self._reply(req, 404, b'{"error": "not found"}')

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, code: int, body: bytes,
               ctype: str = "application/json") -> None:
        req.send_response(code)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
