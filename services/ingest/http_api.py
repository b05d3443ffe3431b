"""The HTTP front door: POST /v1/events, /v1/documents, /v1/labels (JSON, proto3
JSON mapping), GET /healthz and /readyz.

Status codes: 200 all accepted; 207 some rejected (per-item results in the
body); 422 none accepted; 400 malformed body; 413 too large; 429 throttled
(Retry-After); 503 not ready.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format

from ingest.core import IngestCore, require_list
from mlmesh.auth.authz import presented_key
from mlmesh.grpcx.errors import DomainError, ResourceExhausted, Unauthenticated
from mlmesh.ingest.v1 import ingest_service_pb2 as pb

log = logging.getLogger(__name__)

ROUTES = {"/v1/events": ("user_event", "events"), "/v1/documents": ("document", "documents"),
          "/v1/labels": ("label", "labels")}


def make_handler(core: IngestCore, ready: Callable[[], bool],
                 max_body: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlmesh-ingest"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http " + format, *args)

        def _send(self, status: int, body: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, {"status": "ok"})
            elif self.path == "/readyz":
                ok = ready()
                self._send(200 if ok else 503, {"ready": ok})
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            route = ROUTES.get(self.path.split("?")[0])
            if route is None:
                self._send(404, {"error": f"no route {self.path}"})
                return
            try:  # before the body is read: a caller without a key learns nothing more
                who = core.authorizer.authenticate(presented_key(self.headers.items()))
            except Unauthenticated as exc:
                self.close_connection = True
                self._send(401, {"error": exc.message},
                           {"WWW-Authenticate": 'Bearer realm="mlmesh"'})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self._send(400, {"error": "bad Content-Length"})
                return
            if length > max_body:
                self.close_connection = True
                self._send(413, {"error": f"body of {length} bytes; at most {max_body}"})
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                # RecursionError: nesting deeper than the decoder's stack (found by
                # the chaos fuzzer: the connection used to drop without an answer)
                self._send(400, {"error": f"malformed JSON: {exc}"})
                return
            kind, key = route
            try:
                items = core.from_json(kind, require_list(body, key))
                reply = core.publish(kind, items, who=who)
                hint = core.throttle_hint(reply)
                if hint is not None:
                    raise ResourceExhausted(reply.first_error, hint)
                results = reply.results()
            except DomainError as exc:
                headers = {}
                if isinstance(exc, ResourceExhausted):
                    headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))

                self._send(exc.http_status, {"error": exc.message}, headers)
                return
            accepted = sum(1 for r in results if r.status == pb.PUBLISH_STATUS_ACCEPTED)
            status = 200 if accepted == len(results) else (207 if accepted else 422)
            self._send(status, {
                "accepted": accepted, "rejected": len(results) - accepted,
                "results": [json_format.MessageToDict(r, preserving_proto_field_name=True)
                            for r in results],
            })

    return Handler


class _Server(ThreadingHTTPServer):
    reuse_port = False

    def server_bind(self) -> None:
        if self.reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class HttpServer:
    def __init__(self, address: str, handler: type[BaseHTTPRequestHandler],
                 reuse_port: bool = False) -> None:
        host, _, port = address.rpartition(":")
        server_cls = type("IngestHTTPServer", (_Server,), {"reuse_port": reuse_port})
        self.httpd = server_cls((host or "127.0.0.1", int(port)), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ingest-http",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
