"""Domain errors and THE one place that maps them to gRPC status codes."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2


class DomainError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 412


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504


class PayloadTooLarge(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 413


class ResourceExhausted(DomainError):
    """Over a rate limit or back-pressure threshold; carries a retry hint."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(0.0, retry_after_s)


def trailing_metadata(error: DomainError) -> tuple[tuple[str, str | bytes], ...]:
    """Rich status details (google.rpc.Status with RetryInfo) where they apply."""
    if not isinstance(error, ResourceExhausted):
        return ()
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=int(error.retry_after_s),
                                          nanos=int((error.retry_after_s % 1) * 1e9)))
    detail = any_pb2.Any()
    detail.Pack(retry)
    status = status_pb2.Status(code=error.code.value[0], message=error.message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),
            ("retry-after-ms", str(int(error.retry_after_s * 1000))))


def abort(context: grpc.ServicerContext, error: DomainError) -> None:
    """Abort the RPC with the error's status (raises)."""
    md = trailing_metadata(error)
    if md:
        context.set_trailing_metadata(md)
    context.abort(error.code, error.message)
