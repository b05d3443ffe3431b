"""A throw-away local mesh on its own state dir and ports.

Every port the launchers and services read is set through the environment
(``StackContext(env=...)``), from a base port, so a chaos run never collides
with a developer's ``mlmesh up`` (default ports) or with another run (another
base). Components are whatever ``stack.COMPONENTS`` registers right now: a
component the suite wants but the registry lacks is reported, not faked.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlmesh.localstack import stack
from mlmesh.localstack.base import Component, port_open
from mlmesh.localstack.stack import ComponentEntry, StackContext

log = logging.getLogger(__name__)

# Offsets from the base port of every address the mesh's launchers and
# services read from the environment (names as in their Settings).
PORT_VARS: dict[str, int] = {
    "MLMESH_STACK_KAFKA_CONTROLLER_PORT": 1,
    "MLMESH_INGEST_METRICS_PORT": 4,
    "MLMESH_FEATURES_METRICS_PORT": 5,
    "MLMESH_EMBEDDER_METRICS_PORT": 6,
    "MLMESH_INFERENCE_GRPC_PORT": 7,
    "MLMESH_INFERENCE_METRICS_PORT": 8,
    "MLMESH_MONITOR_HTTP_PORT": 9,
    "MLMESH_MONITOR_METRICS_PORT": 10,
    "MLMESH_FEATURES_REST_PORT": 11,
    "MLMESH_FEATURES_RPC_PORT": 20,  # the cluster profile's JobManager
}
SPAN = 40  # ports kept from the base (the next run's base must be >= base + SPAN)
# the cluster profile's second replica of a service: its ports + this (the
# services' offsets above, 3-10 and 16, land on 23-30 and 36)
REPLICA_STEP = 20

# What the suite exercises, in stack order; kinds of fault each can take.
SERVICES = ("ingest", "features-job", "feature-writer", "embedder", "inference", "monitor")
CORE = ("kafka", "ingest")  # without these there is no run at all


# The cluster profile's second and third brokers and their controllers, on
# offsets the single profile leaves free
CLUSTER_BROKERS = (15, 17)
CLUSTER_CONTROLLERS = (18, 19)


@dataclass
class Ports:
    base: int
    cluster: bool = False  # three Kafka brokers (the cluster profile)

    @property
    def kafka(self) -> int:
        return self.base

    @property
    def milvus(self) -> int:
        return self.base + 2

    @property
    def triton_grpc(self) -> int:  # triton: http = grpc - 1, metrics = grpc + 1
        return self.base + 13

    @property
    def ingest_grpc(self) -> int:
        return self.base + 3

    @property
    def ingest_http(self) -> int:
        return self.base + 16

    @property
    def inference_grpc(self) -> int:
        return self.base + PORT_VARS["MLMESH_INFERENCE_GRPC_PORT"]

    def replicas(self, port: int) -> str:
        """The gRPC target of a service's replicas (a round-robin list on the
        cluster profile)."""
        steps = (0, REPLICA_STEP) if self.cluster else (0,)
        return ",".join(f"127.0.0.1:{port + s}" for s in steps)

    def env(self, state_dir: Path) -> dict[str, str]:
        env = {k: str(self.base + off) for k, off in PORT_VARS.items()}
        if self.cluster:
            brokers = [self.kafka] + [self.base + o for o in CLUSTER_BROKERS]
            controllers = [self.kafka + 1] + [self.base + o for o in CLUSTER_CONTROLLERS]
            env.update({"MLMESH_STACK_PROFILE": "cluster",
                        "MLMESH_STACK_REPLICA_PORT_STEP": str(REPLICA_STEP),
                        "MLMESH_STACK_KAFKA_CONTROLLER_PORTS": ",".join(map(str, controllers))})
        else:
            brokers = [self.kafka]
        env.update({
            "MLMESH_STATE_DIR": str(state_dir),
            "MLMESH_KAFKA_BOOTSTRAP": ",".join(f"127.0.0.1:{b}" for b in brokers),
            "MLMESH_MILVUS_URI": f"http://127.0.0.1:{self.milvus}",
            "MLMESH_TRITON_GRPC": f"127.0.0.1:{self.triton_grpc}",
            "MLMESH_INGEST_GRPC_ADDRESS": f"127.0.0.1:{self.ingest_grpc}",
            "MLMESH_INGEST_HTTP_ADDRESS": f"127.0.0.1:{self.ingest_http}",
            "MLMESH_CLIENT_INGEST_GRPC": self.replicas(self.ingest_grpc),
            "MLMESH_CLIENT_INGEST_HTTP": f"http://127.0.0.1:{self.ingest_http}",
            "MLMESH_CLIENT_INFERENCE_GRPC": self.replicas(self.inference_grpc),
            "MLMESH_CLIENT_MONITOR_URL":
                f"http://127.0.0.1:{self.base + PORT_VARS['MLMESH_MONITOR_HTTP_PORT']}",
        })
        return env

    def busy(self) -> list[int]:
        return [p for p in range(self.base, self.base + SPAN) if port_open(p)]


@dataclass
class ChaosStack:
    """The components of one throw-away mesh, started in registry order."""

    state_dir: Path
    ports: Ports
    extra_env: Mapping[str, str] = field(default_factory=dict)
    only: Iterable[str] | None = None
    components: dict[str, Component] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # registered, would not start

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLMESH_")}
        for k in ("MLMESH_JARS_DIR", "MLMESH_MODELS_DIR", "MLMESH_TRITON_VENV"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.ports.env(self.state_dir))
        env.update(self.extra_env)
        self.ctx = StackContext(state_dir=self.state_dir, env=env)
        wanted = set(self.only) if self.only is not None else None
        self.entries: list[ComponentEntry] = [
            e for e in stack.COMPONENTS if wanted is None or e.name in wanted]
        registered = {e.name for e in stack.COMPONENTS}
        self.missing = [s for s in SERVICES if s not in registered
                        and (wanted is None or s in wanted)]

    @property
    def bootstrap(self) -> str:
        return self.ctx.kafka_bootstrap

    @property
    def env(self) -> Mapping[str, str]:
        return self.ctx.env

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def has(self, name: str) -> bool:
        return name in self.components

    def up(self, timeout: float = 240.0) -> dict[str, float]:
        """Start every selected component; seconds each took."""
        busy = self.ports.busy()
        if busy:
            raise RuntimeError(f"ports {busy} of base {self.ports.base} are in use")
        took: dict[str, float] = {}
        for entry in list(self.entries):
            t0 = time.monotonic()
            comp = entry.build(self.ctx)
            self.components[entry.name] = comp
            try:
                comp.start(timeout=timeout)
                entry.run_after_start(comp, self.ctx)
            except Exception as exc:
                if entry.name in CORE:
                    raise
                # A broken service must not hide what the rest of the mesh does:
                # recorded (the run fails on it), its faults and audits skipped.
                self.failed[entry.name] = f"{type(exc).__name__}: {exc}"[:2000]
                log.error("chaos stack: component failed to start",
                          extra={"component": entry.name, "error": self.failed[entry.name]})
                comp.stop()
                del self.components[entry.name]
                self.entries.remove(entry)
                continue
            took[entry.name] = round(time.monotonic() - t0, 1)
            log.info("chaos stack: component up", extra={"component": entry.name,
                                                         "seconds": took[entry.name]})
        return took

    def restart(self, name: str, timeout: float = 240.0) -> float:
        """Start a killed component again, with its after-start hook (topics,
        Triton's scoring model) as ``mlmesh up`` would."""
        t0 = time.monotonic()
        self.components[name].start(timeout=timeout)
        for entry in self.entries:
            if entry.name == name:
                entry.run_after_start(self.components[name], self.ctx)
        return time.monotonic() - t0

    def healthy(self, name: str) -> bool:
        try:
            return self.components[name].status().healthy
        except Exception:  # status must not raise, but a half-dead server might
            return False

    def down(self, timeout: float = 30.0) -> list[str]:
        """Stop in reverse order (resuming any paused group first); leftovers."""
        from mlmesh.chaos.procs import ProcessControl

        pc = ProcessControl(self.run_dir)
        leftovers = []
        for entry in reversed(self.entries):
            pc.resume(entry.name, missing_ok=True)
            comp = self.components.get(entry.name) or entry.build(self.ctx)
            try:
                comp.stop(timeout=timeout)
            except Exception as exc:  # keep stopping the others
                leftovers.append(f"{entry.name}: stop failed: {exc!r}")
            if pc.alive(entry.name):
                leftovers.append(f"{entry.name}: still alive")
        # every process any component recorded: nodes (kafka-2, a TaskManager)
        # and replicas (ingest-2) have records of their own
        for record in sorted(self.run_dir.glob("*.json")):
            if pc.alive(record.stem) and not any(f"{record.stem}:" in x for x in leftovers):
                leftovers.append(f"{record.stem}: still alive")
        return leftovers


def free_base(lo: int = 29700, hi: int = 29800, span: int = SPAN) -> Ports:
    """The first block of ``span`` free ports in ``[lo, hi)`` (tests' own range)."""
    import random

    bases = list(range(lo, hi - span + 1, span))
    random.shuffle(bases)  # two runs at once rarely pick the same block
    for base in bases:
        ports = Ports(base)
        if not ports.busy():
            return ports
    raise RuntimeError(f"no {span} free ports in [{lo}, {hi})")
