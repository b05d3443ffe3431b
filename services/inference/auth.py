"""API keys, per-key rate limits and request size limits, as one gRPC interceptor.

Keys travel in the ``x-api-key`` metadata (or ``authorization: Bearer <key>``).
The configuration holds only ``name:sha256hex`` pairs; a presented key is hashed
and compared in constant time. Keys are never logged: logs and metrics name the
key by its configured ``name``. Health and reflection stay open (probes carry no
key). Errors are raised as domain errors; the mesh interceptor maps them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from mlmesh.grpcx.errors import InvalidArgument, PayloadTooLarge, ResourceExhausted, Unauthenticated
from mlmesh.ratelimit import KeyedLimiter

log = logging.getLogger(__name__)
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
API_KEY_HEADER = "x-api-key"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_keys(spec: str) -> dict[str, str]:
    """``"name:sha256hex,..."`` -> {sha256hex: name}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, digest = part.rpartition(":")
        digest = digest.strip().lower()
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("api_keys entries must be name:<64 hex sha256>")
        out[digest] = name.strip() or digest[:8]
    return out


@dataclass
class Caller:
    key_name: str


def presented_key(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    for k, v in metadata or ():
        value = v.decode() if isinstance(v, bytes) else v
        if k == API_KEY_HEADER:
            return value
        if k == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip()
    return None


class ApiKeyInterceptor(grpc.ServerInterceptor):
    def __init__(self, keys: dict[str, str], limiter: KeyedLimiter, max_request_bytes: int,
                 on_reject: Callable[[str], None] | None = None) -> None:
        self.keys = keys
        self.limiter = limiter
        self.max_request_bytes = max_request_bytes
        self.on_reject = on_reject

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def authenticate(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> Caller:
        if not self.enabled:
            return Caller("anonymous")
        key = presented_key(metadata)
        if not key:
            raise Unauthenticated("missing API key (metadata x-api-key)")
        digest = hash_key(key)
        for known, name in self.keys.items():
            if hmac.compare_digest(known, digest):
                return Caller(name)
        raise Unauthenticated("invalid API key")

    def check(self, request: Any, metadata: tuple[tuple[str, str | bytes], ...] | None
              ) -> Caller:
        try:
            caller = self.authenticate(metadata)
            size = (len(request) if isinstance(request, bytes)
                    else request.ByteSize() if hasattr(request, "ByteSize") else 0)
            if size > self.max_request_bytes:
                raise PayloadTooLarge(
                    f"request of {size} bytes exceeds the limit of {self.max_request_bytes}")
            decision = self.limiter.take(caller.key_name)
            if not decision.allowed:
                raise ResourceExhausted(f"rate limit of API key {caller.key_name!r} exceeded",
                                        retry_after_s=decision.retry_after_s)
        except (Unauthenticated, PayloadTooLarge, ResourceExhausted, InvalidArgument) as exc:
            if self.on_reject is not None:
                self.on_reject(type(exc).__name__)
            raise
        return caller

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Any],
                          handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith(OPEN_PREFIXES):
            return handler
        behavior = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            self.check(request, context.invocation_metadata())
            return behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
