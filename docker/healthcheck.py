"""Container health probe for the mlmesh images (HEALTHCHECK and compose).

    python healthcheck.py grpc 127.0.0.1:50051 [SERVICE]   # grpc.health.v1 SERVING
    python healthcheck.py http http://127.0.0.1:9464/metrics  # any 2xx
    python healthcheck.py tcp 127.0.0.1:6122                # port accepts
    python healthcheck.py flink http://127.0.0.1:8081       # a job RUNNING

Exit 0 when healthy, 1 otherwise (Docker's contract). Only the grpc mode imports
grpc, so the same file also works in the Flink image without it.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
from collections.abc import Sequence

TIMEOUT_S = 2.0


def check_grpc(target: str, service: str = "") -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def check_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return 200 <= int(resp.status) < 300
    except (OSError, ValueError):
        return False


def check_flink(rest: str) -> bool:
    """A job of the Flink REST API at ``rest`` is RUNNING (the mini-cluster's
    REST answers before the job runs, and after it failed)."""
    try:
        with urllib.request.urlopen(rest.rstrip("/") + "/jobs/overview",
                                    timeout=TIMEOUT_S) as resp:
            jobs = json.load(resp).get("jobs", [])
    except (OSError, ValueError):
        return False
    return any(j.get("state") == "RUNNING" for j in jobs)


def check_tcp(target: str) -> bool:
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT_S):
            return True
    except (OSError, ValueError):
        return False


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: healthcheck.py grpc|http|tcp|flink TARGET [SERVICE]\n")
        return 2
    mode, target = argv[0], argv[1]
    if mode == "grpc":
        ok = check_grpc(target, argv[2] if len(argv) > 2 else "")
    elif mode == "http":
        ok = check_http(target)
    elif mode == "tcp":
        ok = check_tcp(target)
    elif mode == "flink":
        ok = check_flink(target)
    else:
        sys.stderr.write(f"unknown mode {mode!r}\n")
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
