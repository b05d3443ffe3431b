"""The demo's freshness probe: event -> reflected in what inference serves.

While the workload streams, every ``interval_s`` one UserEvent for a new
probe user goes through ingest (gRPC ``Publish``, event time = now), then
``Predict`` is called for that user until each view shows the event; the time
from the publish call to the first answer that shows it is the event ->
served latency a user of the mesh feels, per view.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import grpc

from mlmesh.client_settings import ClientSettings

PROBE_PREFIX = "probe-"
# the feature that shows the probe's one event, per view
VIEW_SIGNAL = {"user_activity_5m": "event_count_5m", "user_activity_1h": "event_count_1h",
               "user_activity_24h": "event_count_24h", "user_sessions": "last_session_event_count"}


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


class FreshnessProbe(threading.Thread):
    def __init__(self, settings: ClientSettings, interval_s: float = 1.0,
                 timeout_s: float = 15.0) -> None:
        super().__init__(name="freshness-probe", daemon=True)
        self.settings = settings
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.stop = threading.Event()
        self.latencies: dict[str, list[float]] = {v: [] for v in VIEW_SIGNAL}
        self.missed = 0
        self.errors: list[str] = []

    def run(self) -> None:
        from google.protobuf.timestamp_pb2 import Timestamp

        from mlmesh.events.v1 import user_event_pb2
        from mlmesh.inference.v1 import inference_service_pb2 as ipb
        from mlmesh.inference.v1 import inference_service_pb2_grpc as igrpc
        from mlmesh.ingest.v1 import ingest_service_pb2 as gpb
        from mlmesh.ingest.v1 import ingest_service_pb2_grpc as ggrpc

        md = self.settings.metadata() or None
        with self.settings.channel(self.settings.ingest_grpc) as ich, \
                self.settings.channel(self.settings.inference_grpc) as pch:
            ingest, predict = ggrpc.IngestServiceStub(ich), igrpc.InferenceServiceStub(pch)
            while not self.stop.wait(self.interval_s):
                user = f"{PROBE_PREFIX}{uuid.uuid4().hex[:10]}"
                ts = Timestamp()
                ts.FromMilliseconds(int(time.time() * 1000))
                event = user_event_pb2.UserEvent(event_id=f"{user}-1", user_id=user,
                                                 event_time=ts, amount=1.0,
                                                 action=user_event_pb2.ACTION_PURCHASE)
                t0 = time.perf_counter()
                try:
                    ingest.Publish(gpb.PublishRequest(events=[event]), timeout=10, metadata=md)
                    self._await(predict, ipb, user, t0, md)
                except grpc.RpcError as exc:
                    self.errors.append(f"{exc.code().name}: {exc.details()}")

    def _await(self, predict: Any, ipb: Any, user: str, t0: float, md: Any) -> None:
        pending = dict(VIEW_SIGNAL)
        while pending and time.perf_counter() - t0 < self.timeout_s:
            resp = predict.Predict(ipb.PredictRequest(user_id=user), timeout=5, metadata=md)
            values = {f.name: f.value for f in resp.features}
            now = (time.perf_counter() - t0) * 1000
            for view, feature in list(pending.items()):
                if values.get(feature, 0.0) >= 1:
                    self.latencies[view].append(now)
                    del pending[view]
            time.sleep(0.01)
        self.missed += bool(pending)

    def summary(self) -> dict[str, Any]:
        return {"probes": max((len(v) for v in self.latencies.values()), default=0)
                + self.missed, "missed": self.missed, "errors": self.errors[:5],
                "by_view": {view: {"p50_ms": round(_pct(lat, 50), 1),
                                   "p99_ms": round(_pct(lat, 99), 1), "n": len(lat)}
                            for view, lat in self.latencies.items()}}
