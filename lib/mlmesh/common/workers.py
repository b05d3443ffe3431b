"""Worker processes sharing a service's ports.

Python runs a gRPC server's handlers under one interpreter lock, so one process
uses about one core whatever its thread count. A service that wants more runs
``workers`` processes bound to the same ports with SO_REUSEPORT: the kernel
spreads incoming connections over them. This process serves as worker 0 and
starts ``workers - 1`` children (spawned: no state is inherited); SIGTERM or
SIGINT to it is forwarded to the children, and each drains and closes on its
own. Each worker is told its index (for per-worker ports, e.g. metrics).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

log = logging.getLogger(__name__)
S = TypeVar("S", bound=BaseModel)


def _child(cls: type[BaseModel], settings_json: str, serve: Callable[[BaseModel, int], int],
           worker: int) -> None:
    raise SystemExit(serve(cls.model_validate_json(settings_json), worker))


def serve_processes(settings: S, workers: int, serve: Callable[[S, int], int],
                    name: str) -> int:
    """Run ``serve(settings, i)`` for i in 0..workers-1, i = 0 in this process;
    ``serve`` must be a module-level function (it is pickled by reference).
    Returns worker 0's exit code, or the first non-zero code of a child."""
    if workers < 1:
        raise ValueError(f"{name}: workers must be >= 1, got {workers}")
    ctx = multiprocessing.get_context("spawn")
    blob = settings.model_dump_json()
    children = [ctx.Process(target=_child, args=(type(settings), blob, serve, i),
                            name=f"{name}-{i}") for i in range(1, workers)]
    for child in children:
        child.start()
    signalled: set[str] = set()
    try:
        code = serve(settings, 0)
    finally:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)
                signalled.add(child.name)
        for child in children:
            child.join(60)
            if child.is_alive():
                log.error("worker did not stop in 60 s; killing it", extra={"worker": child.name})
                child.kill()
                child.join(5)
    # a child that died of the SIGTERM sent above (still starting, no handler
    # yet) was stopped as asked; any other non-zero exit is a failure
    failed = [c.exitcode for c in children if c.exitcode
              and not (c.name in signalled and c.exitcode == -signal.SIGTERM)]
    if failed and not code:
        log.error("worker processes failed", extra={"exit_codes": failed})
        return int(failed[0]) if failed[0] > 0 else 1
    return code
