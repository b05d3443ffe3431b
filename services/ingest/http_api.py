"""The HTTP front door: POST /v1/events, /v1/documents, /v1/labels (JSON, proto3
JSON mapping), GET /healthz and /readyz. Served by uvicorn (Starlette), TLS and
mutual TLS when configured (``mlmesh.tls``).

Status codes: 200 all accepted; 207 some rejected (per-item results in the
body); 422 none accepted; 400 malformed body; 401 no or an invalid API key
(answered before the body is read); 403 users outside the key's scope; 413 too
large; 429 throttled (Retry-After); 503 not ready.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.core import IngestCore, require_list
from mlmesh.auth.authz import presented_key
from mlmesh.grpcx.errors import DomainError, ResourceExhausted, Unauthenticated
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.tls import ServerTls

log = logging.getLogger(__name__)

ROUTES = {"/v1/events": ("user_event", "events"), "/v1/documents": ("document", "documents"),
          "/v1/labels": ("label", "labels")}


class _TooLarge(Exception):
    pass


async def _body(request: Request, max_body: int) -> bytes:
    """The body, refused past ``max_body`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_body:
                raise _TooLarge(f"body of {declared} bytes; at most {max_body}")
        except ValueError:
            raise _TooLarge("bad Content-Length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise _TooLarge(f"body of more than {max_body} bytes; at most {max_body}")
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(core: IngestCore, ready: Callable[[], bool], max_body: int) -> Starlette:
    def publish(kind: str, key: str, body: Any, who: Any) -> Response:
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
            return JSONResponse({"error": exc.message}, exc.http_status, headers)
        accepted = sum(1 for r in results if r.status == pb.PUBLISH_STATUS_ACCEPTED)
        return JSONResponse({
            "accepted": accepted, "rejected": len(results) - accepted,
            "results": [json_format.MessageToDict(r, preserving_proto_field_name=True)
                        for r in results],
        }, 200 if accepted == len(results) else (207 if accepted else 422))

    async def post(request: Request) -> Response:
        kind, key = ROUTES[request.url.path]
        try:  # before the body is read: a caller without a key learns nothing more
            who = core.authorizer.authenticate(presented_key(request.headers.items()))
        except Unauthenticated as exc:
            return JSONResponse({"error": exc.message}, 401,
                                {"WWW-Authenticate": 'Bearer realm="mlmesh"',
                                 "Connection": "close"})
        try:
            raw = await _body(request, max_body)
        except _TooLarge as exc:
            status = 400 if "Content-Length" in str(exc) else 413
            return JSONResponse({"error": str(exc)}, status, {"Connection": "close"})
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            # RecursionError: nesting deeper than the decoder's stack (found by
            # the chaos fuzzer: the connection used to drop without an answer)
            return JSONResponse({"error": f"malformed JSON: {exc}"}, 400)
        # publishing waits for broker acks: off the event loop
        return await run_in_threadpool(publish, kind, key, body, who)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ok = await run_in_threadpool(ready)
        return JSONResponse({"ready": ok}, 200 if ok else 503)

    async def not_found(request: Request, _exc: Exception) -> Response:
        return JSONResponse({"error": f"no route {request.url.path}"}, 404)

    routes = [Route(path, post, methods=["POST"]) for path in ROUTES]
    routes += [Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(routes=routes, exception_handlers={404: not_found})


class HttpServer:
    """uvicorn in a thread of its own, on a socket bound here (SO_REUSEPORT
    when several worker processes share the port)."""

    def __init__(self, address: str, app: Starlette, reuse_port: bool = False,
                 tls: ServerTls | None = None) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.sock.bind((host or "127.0.0.1", int(port)))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.tls = tls
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", timeout_keep_alive=5,
            server_header=False, h11_max_incomplete_event_size=64 * 1024,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
            ssl_ca_certs=str(tls.client_ca) if tls and tls.client_ca else None,
            ssl_cert_reqs=ssl.CERT_REQUIRED if tls and tls.client_ca else ssl.CERT_NONE)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="ingest-http", daemon=True)

    def _serve(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"ingest HTTP server not started within {timeout:.0f} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self.sock.close()
