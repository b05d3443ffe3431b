"""API keys, tenant scopes, per-key rate limits and request size limits, as one
gRPC interceptor (``mlmesh.auth``: keys on the shared key log).

Keys travel in the ``x-api-key`` metadata (or ``authorization: Bearer <key>``).
A request that names a ``user_id`` (Predict, Search) is served only when the
user is in the key's scope; anything else is PERMISSION_DENIED with one fixed
text. The interceptor authenticates before the request is parsed (it sees raw
bytes) and keeps the caller for the request; :meth:`ApiKeyInterceptor.authorize`
runs on the parsed request (``add_unary_servicer(parsed=...)``). Keys are never
logged: logs and metrics name the key by its id. Health and reflection stay
open (probes carry no key). Errors are raised as domain errors;
the mesh interceptor maps them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import grpc

from mlmesh.auth.authz import Authorizer, Principal, presented_key
from mlmesh.grpcx.errors import (
    InvalidArgument,
    PayloadTooLarge,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from mlmesh.ratelimit import Limiter

log = logging.getLogger(__name__)
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_caller: ContextVar[Principal | None] = ContextVar("mlmesh_caller", default=None)


class ApiKeyInterceptor(grpc.ServerInterceptor):
    def __init__(self, authorizer: Authorizer, limiter: Limiter, max_request_bytes: int,
                 on_reject: Callable[[str], None] | None = None) -> None:
        self.authorizer = authorizer
        self.limiter = limiter
        self.max_request_bytes = max_request_bytes
        self.on_reject = on_reject

    def check(self, method: str, request: Any,
              metadata: tuple[tuple[str, str | bytes], ...] | None) -> Principal:
        try:
            who = self.authorizer.authenticate(presented_key(metadata))
            size = (len(request) if isinstance(request, bytes)
                    else request.ByteSize() if hasattr(request, "ByteSize") else 0)
            if size > self.max_request_bytes:
                raise PayloadTooLarge(
                    f"request of {size} bytes exceeds the limit of {self.max_request_bytes}")
            decision = self.limiter.take(who.key_id)
            if not decision.allowed:
                raise ResourceExhausted(f"rate limit of API key {who.key_id!r} exceeded",
                                        retry_after_s=decision.retry_after_s)
        except (Unauthenticated, PermissionDenied, PayloadTooLarge, ResourceExhausted,
                InvalidArgument) as exc:
            if self.on_reject is not None:
                self.on_reject(type(exc).__name__)
            raise
        return who

    def authorize(self, method: str, request: Any) -> None:
        """The parsed request's ``user_id`` must be in the caller's scope."""
        who = _caller.get()
        if who is None:
            if not self.authorizer.enabled:
                return
            raise Unauthenticated("missing API key (x-api-key or authorization: Bearer)")
        user_id = getattr(request, "user_id", None)
        if not isinstance(user_id, str):
            return
        try:
            self.authorizer.authorize(who, [user_id], method)
        except PermissionDenied as exc:
            if self.on_reject is not None:
                self.on_reject(type(exc).__name__)
            raise

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Any],
                          handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith(OPEN_PREFIXES):
            return handler
        behavior = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            token = _caller.set(self.check(method, request, context.invocation_metadata()))
            try:
                return behavior(request, context)
            finally:
                _caller.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
