"""Server interceptors: domain-error mapping and trace-context extraction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from mlmesh.grpcx.errors import DomainError, abort

log = logging.getLogger(__name__)


def _wrap_unary(behavior: Callable[[Any, grpc.ServicerContext], Any], method: str,
                tracer: trace.Tracer) -> Callable[[Any, grpc.ServicerContext], Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        carrier = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        ctx = propagate.extract(carrier)
        start = time.perf_counter()
        with tracer.start_as_current_span(method, context=ctx, kind=SpanKind.SERVER) as span:
            try:
                return behavior(request, context)
            except DomainError as exc:
                span.set_status(Status(StatusCode.ERROR, exc.message))
                span.set_attribute("rpc.grpc.status_code", exc.code.value[0])
                abort(context, exc)
            except Exception as exc:
                if context.code() is not None:  # already aborted by the servicer
                    raise
                log.exception("unhandled error", extra={"method": method})
                span.record_exception(exc)
                context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
            finally:
                span.set_attribute("duration_ms", (time.perf_counter() - start) * 1000)
        return None  # unreachable: abort raises

    return handler


class ServerInterceptor(grpc.ServerInterceptor):
    """Maps :class:`DomainError` to status codes and opens a server span per RPC."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Any],
                          handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        return grpc.unary_unary_rpc_method_handler(
            _wrap_unary(handler.unary_unary, method, self.tracer),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
