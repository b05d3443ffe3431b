"""A seeded, replayable fault schedule and the thread that carries it out.

``plan(seed, ...)`` is a pure function of its arguments: the same seed over
the same components gives the same faults at the same offsets, so a failing
run is replayed with ``MLMESH_CHAOS_SEED=<seed>``. The runner executes faults
one after another (a kill and its restart, a pause and its resume), never two
at once, and logs each with what it cost.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from mlmesh.chaos.procs import NotRunning, ProcessControl

log = logging.getLogger(__name__)

Kind = Literal["kill", "pause", "replay", "kill2"]
KILLABLE = ("ingest", "features-job", "feature-writer", "embedder", "inference", "monitor")
PAUSABLE = ("triton", "milvus")
# Node faults of the cluster profile: targets resolved when the fault runs to a
# node's run record: from the cluster's metadata for brokers ("kafka-<id>"),
# from Flink's REST API for TaskManagers ("features-taskmanager-<n>")
LEADER, FOLLOWER = "broker:leader", "broker:follower"
BUSIEST_TM = "taskmanager:busiest"
# in the cluster profile a component's kill hits this process of it (the
# JobManager: without HA the job goes with it and is submitted again from
# its newest checkpoint)
CLUSTER_KILL_TARGET = {"features-job": "features-jobmanager"}
# services with two replicas in the cluster profile: their kills alternate
# between replica 1 (the service's name) and replica 2 ("<name>-2")
REPLICATED = ("ingest", "feature-writer", "embedder", "inference", "monitor")


def component_of(record: str) -> str:
    """The stack component a node's run record belongs to (what restarts it)."""
    if re.fullmatch(r"kafka-\d+", record):
        return "kafka"
    if re.fullmatch(r"features-(jobmanager|taskmanager-\d+)", record):
        return "features-job"
    m = re.fullmatch(r"(.+)-\d+", record)
    return m.group(1) if m and m.group(1) in REPLICATED else record


def cluster_faults(rng: random.Random, duration_s: float, flink: bool = True) -> list[Fault]:
    """SIGKILL of the broker leading the most partitions; the same, then a
    second broker while it is down (writes must stop, not be lost); a broker
    paused past ``replica.lag.time.max.ms`` (10 s) so the ISRs shrink; with
    ``flink``, SIGKILL of the TaskManager running the most subtasks."""
    faults = [
        Fault(round(rng.uniform(0.15, 0.3) * duration_s, 1), "kill", LEADER,
              round(rng.uniform(3.0, 8.0), 1)),
        Fault(round(rng.uniform(0.45, 0.55) * duration_s, 1), "kill2", LEADER,
              round(rng.uniform(3.0, 6.0), 1)),
        Fault(round(rng.uniform(0.65, 0.75) * duration_s, 1), "pause", FOLLOWER,
              round(rng.uniform(13.0, 16.0), 1)),
    ]
    if flink:
        faults.append(Fault(round(rng.uniform(0.35, 0.42) * duration_s, 1), "kill", BUSIEST_TM,
                            round(rng.uniform(2.0, 6.0), 1)))
    return faults


@dataclass(frozen=True)
class Fault:
    at_s: float  # offset from the start of the stream
    kind: Kind
    target: str  # a component name, or a topic for replays
    hold_s: float  # down/paused this long; for replays: records re-produced

    def describe(self) -> str:
        if self.kind == "replay":
            return f"t+{self.at_s:.1f}s replay {int(self.hold_s)} records of {self.target}"
        return f"t+{self.at_s:.1f}s {self.kind} {self.target} for {self.hold_s:.1f}s"


@dataclass
class FaultResult:
    fault: Fault
    started_s: float = 0.0
    took_s: float = 0.0
    ok: bool = False
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self.fault), "started_s": round(self.started_s, 2),
                "took_s": round(self.took_s, 2), "ok": self.ok, "detail": self.detail}


def plan(seed: int, components: Sequence[str], duration_s: float, kills_per_service: int = 3,
         broker_kills: int = 1, pauses_per_store: int = 2, replays: int = 2,
         cluster: bool = False) -> list[Fault]:
    """Faults spread over ``[5%, 85%]`` of the stream, in time order;
    ``cluster``: the broker faults of a three-broker cluster instead of
    ``broker_kills`` kills of the one broker."""
    rng = random.Random(seed)
    lo, hi = 0.05 * duration_s, 0.85 * duration_s
    faults: list[Fault] = []
    for name in (c for c in KILLABLE if c in components):
        target = CLUSTER_KILL_TARGET.get(name, name) if cluster else name
        for i in range(kills_per_service):
            one = f"{name}-2" if cluster and name in REPLICATED and i % 2 else target
            faults.append(Fault(round(rng.uniform(lo, hi), 1), "kill", one,
                                round(rng.uniform(0.2, 3.0), 1)))
    if "kafka" in components and cluster:
        faults += cluster_faults(rng, duration_s, flink="features-job" in components)
    elif "kafka" in components:
        for _ in range(broker_kills):  # mid-stream, so both sides of it carry data
            faults.append(Fault(round(rng.uniform(0.3, 0.6) * duration_s, 1), "kill", "kafka",
                                round(rng.uniform(1.0, 4.0), 1)))
    for name in (c for c in PAUSABLE if c in components):
        for _ in range(pauses_per_store):
            faults.append(Fault(round(rng.uniform(lo, hi), 1), "pause", name,
                                round(rng.uniform(2.0, 6.0), 1)))
    for i in range(replays):
        topic = "user_events" if i % 2 == 0 else "documents"
        faults.append(Fault(round(rng.uniform(0.4, 0.8) * duration_s, 1), "replay", topic,
                            float(rng.randint(200, 2000) if topic == "user_events"
                                  else rng.randint(20, 200))))
    return sorted(faults, key=lambda f: (f.at_s, f.kind, f.target))


@dataclass
class FaultRunner:
    """Carries out ``faults`` against a stack from a background thread."""

    faults: list[Fault]
    control: ProcessControl
    restart: Callable[[str], float]  # start a killed component again; seconds it took
    replay: Callable[[str, int], int]  # re-produce N old records of a topic; how many
    # a node target (LEADER, FOLLOWER, BUSIEST_TM) -> run record names, most wanted first
    nodes: Callable[[str], list[str]] | None = None
    results: list[FaultResult] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)
        self._t0 = 0.0
        self.t0_epoch_ms = 0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.t0_epoch_ms = int(time.time() * 1000)  # to line faults up with dead letters
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        for fault in self.faults:
            wait = fault.at_s - (time.monotonic() - self._t0)
            if wait > 0 and self.stop.wait(wait):
                return
            res = FaultResult(fault, started_s=time.monotonic() - self._t0)
            t0 = time.monotonic()
            try:
                res.detail = self._one(fault)
                res.ok = True
            except Exception as exc:  # recorded; the audit decides what it meant
                res.detail = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("fault failed: %s: %s", fault.describe(), res.detail)
            res.took_s = time.monotonic() - t0
            self.results.append(res)
            log.warning("fault done: %s (ok=%s, %.1fs) %s", fault.describe(), res.ok,
                        res.took_s, res.detail)

    def _target(self, fault: Fault) -> list[str]:
        if ":" in fault.target:
            if self.nodes is None:
                raise RuntimeError(f"{fault.target}: this stack has no cluster")
            return self.nodes(fault.target)
        return [fault.target]

    def _one(self, fault: Fault) -> str:
        if fault.kind == "replay":
            n = self.replay(fault.target, int(fault.hold_s))
            return f"re-produced {n} records"
        target = self._target(fault)
        if fault.kind == "pause":
            pid = self.control.pause(target[0])
            try:
                time.sleep(fault.hold_s)
            finally:
                self.control.resume(target[0])
            return f"SIGSTOP/SIGCONT {target[0]} pgid {pid}"
        if fault.kind == "kill2":  # the first node, then a second while it is down
            first = self.control.kill(target[0])
            time.sleep(2.0)
            second = self.control.kill(target[1])
            time.sleep(fault.hold_s)
            took = self.restart_until_up(component_of(target[0]))
            return (f"SIGKILL {target[0]} (pgid {first}), then {target[1]} (pgid {second}); "
                    f"cluster whole again in {took:.1f}s")
        try:
            pid = self.control.kill(target[0])
        except NotRunning:
            pid = -1  # already down (e.g. died on its own): restart it all the same
        time.sleep(fault.hold_s)
        took = self.restart_until_up(component_of(target[0]))
        return f"SIGKILL {target[0]} pgid {pid}; restarted in {took:.1f}s"

    def restart_until_up(self, name: str, attempts: int = 4) -> float:
        last: Exception | None = None
        t0 = time.monotonic()
        for _ in range(attempts):
            try:
                self.restart(name)
                return time.monotonic() - t0
            except Exception as exc:  # e.g. a dependency still recovering
                last = exc
                time.sleep(2.0)
        raise RuntimeError(f"{name} did not come back after {attempts} starts: {last}")
