"""MLMESH_INFERENCE_WORKERS=2: two processes answer on one gRPC port (the
kernel spreads connections over them), each counts its own requests, the one
metrics port a pod is scraped on shows both workers' counts (labelled by
worker), and SIGTERM to the first stops both. A fixed port is required."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import urllib.request
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inference.app import build, main
from inference.settings import Settings
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from mlmesh.localstack.base import free_port

CHANNELS = 16
CALLS = 3


def _serve(settings: Settings) -> None:
    raise SystemExit(main(settings))


def _three_free_ports() -> int:
    """A port p with p + 1 and p + 2 free too (the merged metrics, then
    worker 0's and worker 1's own)."""
    import socket

    for _ in range(50):
        p = free_port()
        try:
            for q in (p + 1, p + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", q))
        except OSError:
            continue
        return p
    raise RuntimeError("no three adjacent free ports")


def _requests_served(port: int) -> dict[str, float]:
    """inference_requests_total per worker label ("" on a worker's own port)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            if smp.name == "inference_requests_total":
                w = smp.labels.get("worker", "")
                out[w] = out.get(w, 0.0) + smp.value
    return out


def _wait_metrics(ports: list[int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for p in ports:
                _requests_served(p)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"metrics ports {ports} never answered")


def test_two_worker_processes_share_the_port(inference_env: Any) -> None:
    grpc_port, metrics = free_port(), _three_free_ports()
    settings = inference_env.settings(grpc_port=grpc_port, metrics_port=metrics, workers=2,
                                      watch_alerts=False, cache_size=0)
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(settings,))
    proc.start()
    try:
        _wait_metrics([metrics, metrics + 1, metrics + 2])
        # a worker's metrics answer a few seconds before its gRPC server binds
        # (and a busy one can miss a scrape): rounds of fresh connections until
        # the one port shows both workers' counts (or a minute)
        answered, rnd = 0, 0
        merged: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while (set(merged) != {"0", "1"} or answered == 0) and time.monotonic() < deadline:
            for i in range(CHANNELS):
                # a channel of its own connection (grpc shares subchannels by default)
                with grpc.insecure_channel(f"127.0.0.1:{grpc_port}",
                                           options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
                    stub = pb_grpc.InferenceServiceStub(ch)
                    for j in range(CALLS):
                        rid = f"w-{rnd}-{i}-{j}"
                        resp = stub.Predict(pb.PredictRequest(user_id=f"workers-{i}",
                                                              request_id=rid),
                                            timeout=30, wait_for_ready=True)
                        assert resp.request_id == rid and resp.model_version
                        assert 0.0 <= resp.score <= 1.0
                        answered += 1
            rnd += 1
            merged = _requests_served(metrics)  # the pod's one scrape port
        served = [merged.get("0", 0.0), merged.get("1", 0.0)]
        assert set(merged) == {"0", "1"}
        assert sum(served) == answered == rnd * CHANNELS * CALLS
        assert served == [sum(_requests_served(metrics + 1).values()),
                          sum(_requests_served(metrics + 2).values())]
        assert all(n > 0 for n in served), f"one worker took every connection: {served}"
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGTERM)
        proc.join(60)
        assert proc.exitcode == 0
        with pytest.raises(OSError):
            _requests_served(metrics + 2)  # the second worker is gone too
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)


def test_workers_need_a_fixed_port(inference_env: Any) -> None:
    with pytest.raises(ValueError, match="fixed grpc_port"):
        build(inference_env.settings(grpc_port=0, workers=2))
