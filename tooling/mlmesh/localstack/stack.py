"""The local stack: which components exist, in which order, and up/status/down.

Adding a component is one line in ``COMPONENTS``: a name, a factory
``"module:function"`` (imported lazily, called with a :class:`StackContext`) and
optionally a hook run after it is healthy. Entries start in list order and stop
in reverse. A component can be switched off with ``MLMESH_STACK_<NAME>=0`` (or
``enabled_by_default=False`` and ``MLMESH_STACK_<NAME>=1`` to switch it on);
``enabled_when="VAR=value"`` makes the environment decide the default (Redis
runs when it is the configured online store).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from mlmesh.common import ports
from mlmesh.localstack.base import Component, ComponentStatus, pid_alive, port_open
from mlmesh.localstack.paths import default_state_dir

log = logging.getLogger(__name__)

DEFAULT_KAFKA_BOOTSTRAP = f"127.0.0.1:{ports.KAFKA}"
PROFILES = ("single", "cluster")
PROFILE_FILE = "profile"  # under the state dir: the profile its runtime state belongs to
REPLICAS_FILE = "replicas"  # under the state dir: MLMESH_STACK_REPLICAS of the last `up`


@dataclass
class StackContext:
    """What factories get: where state lives and how to reach started components."""

    state_dir: Path = field(default_factory=default_state_dir)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def profile(self) -> str:
        """``single`` (one process per engine) or ``cluster`` (three Kafka
        brokers at replication factor 3): ``MLMESH_STACK_PROFILE``, else what
        ``mlmesh up --profile`` recorded in the state dir, else ``single``."""
        raw = self.env.get("MLMESH_STACK_PROFILE")
        if raw is None:
            marker = self.state_dir / PROFILE_FILE
            raw = marker.read_text().strip() if marker.exists() else "single"
        if raw not in PROFILES:
            raise ValueError(f"unknown stack profile {raw!r}; known: {', '.join(PROFILES)}")
        return raw

    @property
    def replicas(self) -> int:
        """Replicas of each replicated service (ingest, feature writer, embedder,
        inference; the monitor: one active, the rest standing by):
        ``MLMESH_STACK_REPLICAS``, else what the last ``up`` with it
        recorded in the state dir (so ``down`` and ``status`` find every
        replica), else 2 on the cluster profile, 1 on the single one."""
        raw = self.env.get("MLMESH_STACK_REPLICAS")
        if not raw:
            marker = self.state_dir / REPLICAS_FILE
            raw = marker.read_text().strip() if marker.exists() else ""
        return int(raw) if raw else (2 if self.profile == "cluster" else 1)

    def record_replicas(self) -> None:
        """Keep ``MLMESH_STACK_REPLICAS`` of this ``up`` in the state dir."""
        raw = self.env.get("MLMESH_STACK_REPLICAS")
        if raw:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            (self.state_dir / REPLICAS_FILE).write_text(f"{int(raw)}\n")

    @property
    def replica_port_step(self) -> int:
        """Replica n listens on replica 1's ports + (n - 1) * this."""
        from mlmesh.localstack.replicas import REPLICA_PORT_STEP

        return int(self.env.get("MLMESH_STACK_REPLICA_PORT_STEP", REPLICA_PORT_STEP))

    @property
    def kafka_bootstrap(self) -> str:
        if self.profile == "cluster":
            from mlmesh.localstack.kafka_cluster import cluster_bootstrap

            return self.env.get("MLMESH_KAFKA_BOOTSTRAP", cluster_bootstrap())
        return self.env.get("MLMESH_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP)

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.rsplit(":", 1)[1])

    def service_env(self, **extra: str) -> dict[str, str]:
        """The mesh-wide ``MLMESH_*`` variables every service process gets (with
        ``MLMESH_STACK_KAFKA_SASL=1``, Kafka through its SASL_SSL listener)."""
        from mlmesh.localstack import kafka_sasl

        env = {k: v for k, v in self.env.items() if k.startswith("MLMESH_")}
        env.setdefault("MLMESH_KAFKA_BOOTSTRAP", self.kafka_bootstrap)
        if self.profile == "cluster":  # topics the services create themselves
            from mlmesh.localstack.kafka_cluster import REPLICATION_FACTOR

            env.setdefault("MLMESH_KAFKA_REPLICATION_FACTOR", str(REPLICATION_FACTOR))
        env["MLMESH_STATE_DIR"] = str(self.state_dir)
        if kafka_sasl.enabled(self):
            env.update(kafka_sasl.service_env(kafka_sasl.listener(self)))
        env.update(extra)
        return env


Factory = Callable[[StackContext], Component]
Hook = Callable[[Component, StackContext], None]


@dataclass(frozen=True)
class ComponentEntry:
    name: str
    factory: str  # "package.module:function" taking a StackContext
    after_start: str | None = None  # "package.module:function" (component, ctx)
    enabled_by_default: bool = True
    # "VAR=value": on by default only where the environment says so
    enabled_when: str | None = None

    def enabled(self, ctx: StackContext) -> bool:
        raw = ctx.env.get(f"MLMESH_STACK_{self.name.upper().replace('-', '_')}")
        if raw is None:
            if self.enabled_when is not None:
                var, _, value = self.enabled_when.partition("=")
                return ctx.env.get(var, "").strip().lower() == value
            return self.enabled_by_default
        return raw.strip().lower() not in {"0", "false", "no", "off", ""}

    def build(self, ctx: StackContext) -> Component:
        return cast(Factory, _resolve(self.factory))(ctx)

    def run_after_start(self, component: Component, ctx: StackContext) -> None:
        if self.after_start:
            cast(Hook, _resolve(self.after_start))(component, ctx)


# Dependency order: Kafka first. Other launchers add one line each here.
COMPONENTS: list[ComponentEntry] = [
    ComponentEntry("kafka", "mlmesh.localstack.stack:kafka_factory",
                   after_start="mlmesh.localstack.stack:create_declared_topics"),
    ComponentEntry("redis", "mlmesh.localstack.mesh:redis_factory",
                   enabled_when="MLMESH_FEAST_ONLINE=redis"),
    ComponentEntry("milvus", "mlmesh.localstack.mesh:milvus_factory"),
    ComponentEntry("mlflow", "mlmesh.localstack.mesh:mlflow_factory"),
    ComponentEntry("triton", "mlmesh.localstack.mesh:triton_factory",
                   after_start="mlmesh.localstack.mesh:load_scoring_model"),
    ComponentEntry("features-job", "mlmesh.localstack.mesh:features_job_factory"),
    ComponentEntry("feature-writer", "mlmesh.localstack.mesh:feature_writer_factory"),
    ComponentEntry("ingest", "mlmesh.localstack.mesh:ingest_factory"),
    ComponentEntry("embedder", "mlmesh.localstack.mesh:embedder_factory"),
    ComponentEntry("inference", "mlmesh.localstack.mesh:inference_factory"),
    ComponentEntry("monitor", "mlmesh.localstack.mesh:monitor_factory"),
    ComponentEntry("retrainer", "mlmesh.localstack.mesh:retrainer_factory",
                   enabled_by_default=False),
]


def select_profile(profile: str, state_dir: Path | None = None) -> None:
    """Record the profile ``mlmesh up --profile`` asked for in the state dir.
    A state dir holding the other profile's runtime state is refused: its
    stores and checkpoints refer to the other Kafka's topics and offsets."""
    if profile not in PROFILES:
        raise ValueError(f"unknown stack profile {profile!r}; known: {', '.join(PROFILES)}")
    from mlmesh.localstack.state import runtime_state

    state_dir = state_dir or default_state_dir()
    marker = state_dir / PROFILE_FILE
    current = marker.read_text().strip() if marker.exists() else "single"
    if profile != current:  # Kafka's data and what refers to its offsets (checkpoints)
        held = [p.name for p in runtime_state(state_dir)
                if p.name in ("data", "features") or p.name.startswith("kafka")]
        if held:
            raise ValueError(f"{state_dir} holds the {current} profile's runtime state "
                             f"({', '.join(held)}): run `mlmesh reset` first, or set another "
                             "MLMESH_STATE_DIR")
    state_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(profile + "\n")
    if profile != current:  # the other profile's replica count does not carry over
        (state_dir / REPLICAS_FILE).unlink(missing_ok=True)


def _resolve(ref: str) -> object:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def kafka_factory(ctx: StackContext) -> Component:
    from mlmesh.localstack import kafka_sasl
    from mlmesh.localstack.kafka import KafkaComponent

    if ctx.profile == "cluster":
        from mlmesh.localstack.kafka_cluster import KafkaClusterComponent

        brokers = [int(a.rsplit(":", 1)[1]) for a in ctx.kafka_bootstrap.split(",")]
        raw = ctx.env.get("MLMESH_STACK_KAFKA_CONTROLLER_PORTS")
        controllers = [int(p) for p in raw.split(",")] if raw else [b + 1 for b in brokers]
        if kafka_sasl.enabled(ctx):
            raise ValueError("MLMESH_STACK_KAFKA_SASL=1 is for the single profile only")
        return KafkaClusterComponent(ctx.state_dir, node_ports=list(zip(brokers, controllers,
                                                                         strict=True)),
                                     heap=ctx.env.get("MLMESH_STACK_KAFKA_HEAP", "400m"))
    port = ctx.kafka_port
    controller = int(ctx.env.get("MLMESH_STACK_KAFKA_CONTROLLER_PORT", port + 1))
    extra = kafka_sasl.broker_properties(kafka_sasl.listener(ctx), port, controller) \
        if kafka_sasl.enabled(ctx) else None
    return KafkaComponent(
        ctx.state_dir, port=port, controller_port=controller,
        heap=ctx.env.get("MLMESH_STACK_KAFKA_HEAP", "400m"), extra_properties=extra,
    )


def create_declared_topics(component: Component, ctx: StackContext) -> None:
    from mlmesh.kafka.topics import ensure_topics, load_topics
    from mlmesh.localstack import kafka_sasl

    specs = load_topics()
    if ctx.profile == "cluster":
        from mlmesh.localstack.kafka_cluster import durable

        specs = [durable(s) for s in specs]
    created = ensure_topics(ctx.kafka_bootstrap, specs)
    log.info("declared topics applied", extra={"topics_created": created})
    if kafka_sasl.enabled(ctx):
        kafka_sasl.add_user(ctx.kafka_bootstrap, kafka_sasl.listener(ctx))
    if ctx.env.get("MLMESH_AUTH", "").strip().lower() in ("1", "true", "yes", "on"):
        from mlmesh.devkey import ensure_dev_key

        ensure_dev_key(ctx.kafka_bootstrap, ctx.env.get("MLMESH_KEYS_TOPIC", "api-keys"),
                       ctx.state_dir)


def entries(names: Sequence[str] | None = None,
            registry: Sequence[ComponentEntry] | None = None) -> list[ComponentEntry]:
    registry = COMPONENTS if registry is None else registry
    if names is None:
        return list(registry)
    known = {e.name for e in registry}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown components {unknown}; known: {sorted(known)}")
    return [e for e in registry if e.name in set(names)]


def up(components: Sequence[str] | None = None, ctx: StackContext | None = None,
       timeout: float = 180.0,
       registry: Sequence[ComponentEntry] | None = None) -> list[ComponentStatus]:
    """Start the named (default: all enabled) components in order; block until
    each is healthy. Explicitly named components start even if disabled."""
    ctx = ctx or StackContext()
    ctx.record_replicas()
    result = []
    for entry in entries(components, registry):
        if components is None and not entry.enabled(ctx):
            log.info("component disabled", extra={"component": entry.name})
            continue
        comp = entry.build(ctx)
        t0 = time.monotonic()
        comp.start(timeout=timeout)
        entry.run_after_start(comp, ctx)
        log.info("component up", extra={"component": entry.name,
                                        "seconds": round(time.monotonic() - t0, 2)})
        result.append(comp.status())
    return result


@dataclass
class DownReport:
    stopped: list[str]
    leftovers: list[str]  # "name: pid N alive" / "name: port P open"

    @property
    def clean(self) -> bool:
        return not self.leftovers


_PORT_RE = re.compile(r":(\d{1,5})(?:/|$)")


def _ports(status: ComponentStatus) -> list[int]:
    """Ports named in a status' addresses ("host:port", "http://host:port/...")."""
    return [int(m.group(1)) for a in status.addresses.values() if (m := _PORT_RE.search(a))]


def down(components: Sequence[str] | None = None, ctx: StackContext | None = None,
         timeout: float = 30.0, registry: Sequence[ComponentEntry] | None = None,
         ) -> DownReport:
    """Stop components in reverse order (all registered ones, enabled or not),
    then check that no process of theirs is alive and no port of theirs open."""
    ctx = ctx or StackContext()
    stopped: list[str] = []
    leftovers: list[str] = []
    for entry in reversed(entries(components, registry)):
        comp = entry.build(ctx)
        before = comp.status()
        if before.running:
            comp.stop(timeout=timeout)
            stopped.append(entry.name)
        after = comp.status()
        if before.pid is not None and pid_alive(before.pid):
            leftovers.append(f"{entry.name}: pid {before.pid} alive")
        if after.running:
            leftovers.append(f"{entry.name}: still running (pid {after.pid})")
        if before.running:  # only ports we know were ours
            deadline = time.monotonic() + 5
            for port in _ports(before):
                while port_open(port) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if port_open(port):
                    leftovers.append(f"{entry.name}: port {port} open")
    return DownReport(stopped, leftovers)


def _safe_status(entry: ComponentEntry, ctx: StackContext) -> ComponentStatus:
    """A component whose factory fails (missing model, package...) is reported,
    not fatal: status must always answer."""
    try:
        return entry.build(ctx).status()
    except Exception as exc:  # one broken launcher must not hide the others
        return ComponentStatus(entry.name, healthy=False, running=False,
                               detail=f"unavailable: {exc!r}")


@dataclass
class StackStatus:
    components: list[ComponentStatus]
    topics: list[dict[str, object]]
    kafka_bootstrap: str
    state_dir: str
    topics_error: str = ""
    profile: str = "single"
    # the cluster profile: brokers, controller, leaders per broker, partitions
    # under-replicated and offline (kafka_cluster.ClusterState.to_dict)
    kafka_cluster: dict[str, object] | None = None
    # the cluster profile's Flink session cluster: the job, its parallelism,
    # TaskManagers and slots (flink_cluster.FlinkSessionComponent.cluster_view)
    flink_cluster: dict[str, object] | None = None

    def to_dict(self) -> dict[str, object]:
        return {"state_dir": self.state_dir, "profile": self.profile,
                "kafka_bootstrap": self.kafka_bootstrap,
                "components": [c.to_dict() for c in self.components],
                "kafka_cluster": self.kafka_cluster, "flink_cluster": self.flink_cluster,
                "topics": self.topics, "topics_error": self.topics_error}


def status(ctx: StackContext | None = None, with_topics: bool = True,
           registry: Sequence[ComponentEntry] | None = None) -> StackStatus:
    """Health of every registered component plus, if Kafka answers, each
    topic's partitions and end offsets."""
    ctx = ctx or StackContext()
    comps = [_safe_status(e, ctx) for e in entries(None, registry)]
    topics: list[dict[str, object]] = []
    error = ""
    kafka = next((c for c in comps if c.name == "kafka"), None)
    kafka_ok = kafka is not None and kafka.healthy
    if with_topics and kafka_ok:
        from mlmesh.kafka.topics import describe_topics

        try:
            topics = [t.to_dict() for t in describe_topics(ctx.kafka_bootstrap)]
        except Exception as exc:  # status must always answer
            error = repr(exc)
    cluster: dict[str, object] | None = None
    if ctx.profile == "cluster" and kafka is not None and kafka.running:
        from mlmesh.localstack.kafka_cluster import cluster_state

        try:  # also while a broker is down: that is when it matters
            cluster = cluster_state(ctx.kafka_bootstrap, timeout=3.0).to_dict()
        except Exception as exc:  # status must always answer
            cluster = {"error": repr(exc)}
    return StackStatus(comps, topics, ctx.kafka_bootstrap, str(ctx.state_dir), error,
                       profile=ctx.profile, kafka_cluster=cluster,
                       flink_cluster=_flink_view(ctx, comps, registry))


def _flink_view(ctx: StackContext, comps: list[ComponentStatus],
                registry: Sequence[ComponentEntry] | None) -> dict[str, object] | None:
    """The cluster profile's Flink session cluster, while its JobManager runs."""
    job = next((c for c in comps if c.name == "features-job"), None)
    if ctx.profile != "cluster" or job is None or not job.running:
        return None
    from mlmesh.localstack.flink_cluster import FlinkSessionComponent

    comp = entries(["features-job"], registry)[0].build(ctx)
    if not isinstance(comp, FlinkSessionComponent):
        return None
    try:
        return comp.cluster_view()
    except Exception as exc:  # status must always answer
        return {"error": repr(exc)}
