"""Wiring: dependencies, router + alert watcher, caches, interceptors, gRPC server."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from inference.auth import ApiKeyInterceptor
from inference.control import open_policy_source
from inference.emitter import PredictionEmitter
from inference.features import FeastOnlineReader, open_feature_store
from inference.metrics import Instruments
from inference.retrieval import MilvusRetriever
from inference.rollback import AlertWatcher
from inference.router import PolicySource, Router
from inference.servicer import Deps, InferenceServicer
from inference.settings import Settings
from inference.triton import TritonGateway
from mlmesh.auth import open_authorizer
from mlmesh.auth.keylog import KeyLog
from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.logging import configure_logging
from mlmesh.common.telemetry import init_worker_telemetry
from mlmesh.common.workers import serve_processes
from mlmesh.grpcx.registration import add_unary_servicer
from mlmesh.grpcx.server import GrpcServer
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.ratelimit import open_limiter

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["InferenceService"].full_name


@dataclass
class Service:
    settings: Settings
    server: GrpcServer
    servicer: InferenceServicer
    router: Router
    deps: Deps
    watcher: AlertWatcher | None
    pool: ThreadPoolExecutor
    policies: PolicySource
    worker: int = 0
    keys: KeyLog | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> Service:
        self.server.start()
        if self.watcher is not None:
            self.watcher.start()
        log.info("inference serving", extra={"port": self.server.port, "worker": self.worker,
                                             "primary": self.router.current().primary})
        return self

    def stop(self, grace: float = 5.0) -> None:
        self.server.stop(grace)
        if self.watcher is not None:
            self.watcher.stop()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.deps.emitter is not None:
            self.deps.emitter.close()
        self.deps.triton.close()
        self.deps.retriever.close()
        close = getattr(self.policies, "close", None)
        if close is not None:
            close()
        if self.keys is not None:
            self.keys.close()


def build(settings: Settings, worker: int = 0) -> Service:
    """The service of worker process ``worker`` (0 when there is one): with
    several, each serves its own metrics and worker 0 serves all of them on
    ``metrics_port`` (mlmesh.common.metrics_fanin); only worker 0 watches alerts
    (a rollback rewrites the policy file, which every worker's router follows)."""
    shared = settings.workers > 1
    if shared and settings.grpc_port == 0:
        raise ValueError("inference: workers > 1 needs a fixed grpc_port (MLMESH_INFERENCE_"
                         "GRPC_PORT): every worker binds the same port")
    telemetry = init_worker_telemetry(settings.service_name, settings.metrics_port, worker,
                                      settings.workers)
    instruments = Instruments.create(telemetry.meter)
    extra = settings.kafka_extra()
    deps = Deps(
        features=FeastOnlineReader(
            open_feature_store(settings.feast_repo, settings.state_dir, settings.feast_online,
                               settings.redis_url), settings.feature_service),
        # queries embedded by the same model version as the chunks searched: during a
        # re-embed, a query never meets vectors of another model
        triton=TritonGateway(settings.triton_grpc, settings.scorer_model,
                             settings.embedding_model, settings.embedding_model_version),
        retriever=MilvusRetriever(settings.milvus_uri, settings.milvus_collection,
                                  settings.embedding_model_version, settings.milvus_timeout_s),
        emitter=PredictionEmitter(settings.kafka_bootstrap, settings.predictions_topic, extra,
                                  on_failure=lambda: instruments.emit_failures.add(1),
                                  delivery_timeout_s=settings.predictions_delivery_timeout_s)
        if settings.emit_predictions else None,
    )

    def latest_loaded() -> str:
        try:
            versions = deps.triton.scorer_versions()
        except Exception:  # Triton not up yet: retried on the next poll
            return ""
        return versions[-1] if versions else ""

    store = open_policy_source(settings)
    router = Router(store, settings.routing_poll_s, fallback=latest_loaded)
    pool = ThreadPoolExecutor(max_workers=max(4, settings.max_workers // 2),
                              thread_name_prefix="inference-fanout")
    servicer = InferenceServicer(settings, deps, router, instruments, pool)
    authorizer, keys = open_authorizer(settings)
    limits = settings.rate_limit_storage.get_secret_value()
    auth = ApiKeyInterceptor(authorizer, open_limiter(settings.key_rate, settings.key_burst,
                                                      limits, "mlmesh:inference-key"),
                             settings.max_request_bytes,
                             on_reject=lambda why: instruments.rejected.add(1, {"reason": why}))
    server = GrpcServer(
        name="inference", address=f"{settings.grpc_host}:{settings.grpc_port}",
        service_names=[SERVICE_NAME],
        register=lambda s: add_unary_servicer(
            servicer, pb.DESCRIPTOR.services_by_name["InferenceService"], s,
            parsed=auth.authorize),
        dependencies={"feast": deps.features.probe, "milvus": deps.retriever.probe,
                      "triton": deps.triton.probe},
        # Predict answers without features or retrieval (flagged degraded), not
        # without the model: only Triton takes the replica out of rotation
        degradable=("feast", "milvus"), meter=telemetry.meter,
        interceptors=[auth], max_workers=settings.max_workers, reuse_port=shared,
        tls=settings.server_tls())

    def rolled_back(_policy: object) -> None:
        instruments.rollbacks.add(1)
        router.reload(force=True)

    watcher = AlertWatcher(settings.kafka_bootstrap, settings.alerts_topic,
                           settings.alerts_group, store, on_rollback=rolled_back, extra=extra) \
        if settings.watch_alerts and worker == 0 else None
    return Service(settings, server, servicer, router, deps, watcher, pool, store, worker,
                   keys)


def _serve(settings: Settings, worker: int) -> int:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    stop = StopSignal().install()
    service = build(settings, worker).start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        service.stop()
    return 0


def main(settings: Settings) -> int:
    """Serve in this process, plus ``workers - 1`` child processes on the same
    port (mlmesh.common.workers)."""
    return serve_processes(settings, settings.workers, _serve, "inference")
