"""The gRPC front door: IngestService with raw-bytes request handling (items
are split at the wire level so one bad item never fails its batch)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from ingest.core import IngestCore
from mlmesh.auth.authz import presented_key
from mlmesh.grpcx.errors import InvalidArgument, ResourceExhausted
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.wire import WireError

SERVICE = pb.DESCRIPTOR.services_by_name["IngestService"].full_name

Response = pb.PublishResponse | pb.PublishDocumentsResponse | pb.PublishLabelsResponse


class IngestServicer:
    def __init__(self, core: IngestCore) -> None:
        self.core = core

    def _handle(self, kind: str,
                response_cls: type[Response]) -> Callable[[bytes, grpc.ServicerContext], Response]:
        def handler(request: bytes, context: grpc.ServicerContext) -> Response:
            who = self.core.authorizer.authenticate(
                presented_key(context.invocation_metadata()))
            try:
                items = self.core.from_request(kind, request)
            except WireError as exc:
                raise InvalidArgument(f"malformed request: {exc}") from exc
            remaining = context.time_remaining()
            reply = self.core.publish(kind, items, remaining - 0.05 if remaining else None,
                                      who=who)
            hint = self.core.throttle_hint(reply)
            if hint is not None:
                raise ResourceExhausted(f"all {reply.rejected} item(s) throttled: "
                                        f"{reply.first_error}", hint)
            return reply.fill(response_cls())

        return handler

    def register(self, server: grpc.Server) -> None:
        handlers = {
            "Publish": self._handle("user_event", pb.PublishResponse),
            "PublishDocuments": self._handle("document", pb.PublishDocumentsResponse),
            "PublishLabels": self._handle("label", pb.PublishLabelsResponse),
        }
        method_handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=None,
                response_serializer=lambda m: m.SerializeToString())
            for name, fn in handlers.items()
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, method_handlers),))
