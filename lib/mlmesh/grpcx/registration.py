"""Register a servicer so that malformed request bytes (truncated, invalid
UTF-8 in a string field, wrong wire types) get INVALID_ARGUMENT with the
parser's reason, instead of gRPC's generic INTERNAL "Exception deserializing
request" that happens before any interceptor runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import symbol_database
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError, Message

from mlmesh.grpcx.errors import InvalidArgument


def _parsing(method: Callable[[Any, grpc.ServicerContext], Any], request_cls: type[Message],
             parsed: Callable[[str, Message], None] | None = None,
             ) -> Callable[[bytes, grpc.ServicerContext], Any]:
    def handler(raw: bytes, context: grpc.ServicerContext) -> Any:
        request = request_cls()
        try:
            request.ParseFromString(raw)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise InvalidArgument(
                f"malformed {request_cls.DESCRIPTOR.full_name}: {exc}") from exc
        if parsed is not None:
            parsed(getattr(method, "__name__", ""), request)
        return method(request, context)

    return handler


def add_unary_servicer(servicer: object, service: ServiceDescriptor, server: grpc.Server,
                       parsed: Callable[[str, Message], None] | None = None) -> None:
    """Every unary-unary method of ``service`` served by the same-named method
    of ``servicer``, requests parsed by us; ``parsed(method, request)`` runs on
    each parsed request first (e.g. authorization on its fields) and may raise
    a domain error."""
    db = symbol_database.Default()
    handlers = {}
    for method in service.methods:
        request_cls = db.GetSymbol(method.input_type.full_name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _parsing(getattr(servicer, method.name), request_cls, parsed),
            request_deserializer=None,
            response_serializer=lambda m: m.SerializeToString())
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),))
