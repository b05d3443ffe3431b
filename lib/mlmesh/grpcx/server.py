"""A gRPC server with the mesh's defaults: library HealthServicer, reflection,
interceptors, graceful stop.

Readiness means "can answer, possibly degraded": the server's health (service
``""`` and each served service) is SERVING while every *required* dependency
answers. A *degradable* dependency (one the service answers without, flagged
degraded) never turns it NOT_SERVING, so a blip of it does not take every
replica out of a load balancer. Each dependency's own state is published as
the health service ``mlmesh.dependency.<name>`` (what ``mlmesh status`` shows)
and, given a meter, as the gauge ``mlmesh_dependency_up{dependency=<name>}``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import metrics, trace

from mlmesh.grpcx.interceptors import ServerInterceptor
from mlmesh.tls import ServerTls

log = logging.getLogger(__name__)

DependencyCheck = Callable[[], bool]
DEPENDENCY_PREFIX = "mlmesh.dependency."


def dependency_service(name: str) -> str:
    """The health service name that carries dependency ``name``'s state."""
    return f"{DEPENDENCY_PREFIX}{name}"


class GrpcServer:
    def __init__(self, *, name: str, address: str, service_names: Sequence[str],
                 register: Callable[[grpc.Server], None],
                 dependencies: dict[str, DependencyCheck] | None = None,
                 degradable: Collection[str] = (),
                 meter: metrics.Meter | None = None,
                 interceptors: Sequence[grpc.ServerInterceptor] = (),
                 max_workers: int = 16, max_message_bytes: int = 4 * 1024 * 1024,
                 health_interval: float = 2.0, reuse_port: bool = False,
                 tls: ServerTls | None = None) -> None:
        self.name = name
        self.tls = tls
        self.address = address
        self.service_names = list(service_names)
        self.dependencies = dependencies or {}
        unknown = set(degradable) - set(self.dependencies)
        if unknown:
            raise ValueError(f"degradable dependencies {sorted(unknown)} have no probe")
        self.degradable = frozenset(degradable)
        self.health_interval = health_interval
        self.health = health.HealthServicer(experimental_non_blocking=True)
        tracer = trace.get_tracer(f"mlmesh.{name}.grpc")
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{name}-rpc"),
            interceptors=[ServerInterceptor(tracer), *interceptors],
            options=[("grpc.max_receive_message_length", max_message_bytes),
                     ("grpc.max_send_message_length", max_message_bytes),
                     # several worker processes may share one port (SO_REUSEPORT)
                     ("grpc.so_reuseport", 1 if reuse_port else 0)],
        )
        register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*self.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME], self.server)
        self.port = 0
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None
        self.dependency_state: dict[str, bool] = {}
        if meter is not None and self.dependencies:
            meter.create_observable_gauge(
                "mlmesh_dependency_up", callbacks=[self._observe_dependencies],
                description="1 while the dependency answers its probe, else 0 "
                            "(required: the server is NOT_SERVING without it)")

    def _observe_dependencies(self, _options: metrics.CallbackOptions
                              ) -> Iterable[metrics.Observation]:
        for dep, up in list(self.dependency_state.items()):
            yield metrics.Observation(int(up), {"dependency": dep,
                                                "required": str(dep not in self.degradable)
                                                .lower()})

    def start(self) -> int:
        self.port = (self.server.add_secure_port(self.address, self.tls.grpc_credentials())
                     if self.tls is not None else self.server.add_insecure_port(self.address))
        if self.port == 0:
            raise OSError(f"cannot bind gRPC server to {self.address}")
        self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.start()
        self.check_dependencies()
        self._checker = threading.Thread(target=self._check_loop, name=f"{self.name}-health",
                                         daemon=True)
        self._checker.start()
        log.info("grpc server started", extra={
            "address": self.address, "port": self.port,
            "tls": "mutual" if self.tls and self.tls.mutual else bool(self.tls)})
        return self.port

    def check_dependencies(self) -> bool:
        """Probe every dependency; True when every required one answers (the
        server's readiness), whatever the degradable ones say."""
        ok = True
        for dep, probe in self.dependencies.items():
            try:
                up = bool(probe())
            except Exception:
                up = False
            if self.dependency_state.get(dep) != up:
                log.log(logging.INFO if up else logging.WARNING, "dependency state",
                        extra={"dependency": dep, "up": up})
            self.dependency_state[dep] = up
            self.health.set(dependency_service(dep),  # type: ignore[arg-type]
                            health_pb2.HealthCheckResponse.SERVING if up
                            else health_pb2.HealthCheckResponse.NOT_SERVING)
            ok = ok and (up or dep in self.degradable)
        self._set_all(health_pb2.HealthCheckResponse.SERVING if ok
                      else health_pb2.HealthCheckResponse.NOT_SERVING)
        return ok

    def _check_loop(self) -> None:
        while not self._stop.wait(self.health_interval):
            self.check_dependencies()

    def _set_all(self, status: int) -> None:
        for svc in ["", *self.service_names]:
            self.health.set(svc, status)  # type: ignore[arg-type]

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new RPCs, let in-flight ones finish within ``grace``."""
        self._stop.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        log.info("grpc server stopped", extra={"server": self.name})

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self.server.wait_for_termination(timeout))
