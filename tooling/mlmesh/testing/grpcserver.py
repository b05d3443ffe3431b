"""An in-process gRPC server on a free local port, for tests of gRPC clients."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc


@contextlib.contextmanager
def serving(register: Callable[[grpc.Server], None], workers: int = 2) -> Iterator[str]:
    """``register(server)`` adds the servicers; yields ``127.0.0.1:<port>``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)
