"""One chaos run end to end: a throw-away mesh, a seeded workload through
ingest, a seeded fault schedule meanwhile, flush, drain, independent audit.

``python -m mlmesh.chaos.run --events 20000 --docs 1000`` (``--seed`` or
``MLMESH_CHAOS_SEED`` replays a schedule); writes a JSON report.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlmesh.chaos.audit import AuditInput, AuditReport, run_audit
from mlmesh.chaos.drain import wait_drained
from mlmesh.chaos.faults import BUSIEST_TM, LEADER, FaultRunner, plan
from mlmesh.chaos.load import IngestSender, Prober, flush_marks, replay
from mlmesh.chaos.procs import ProcessControl
from mlmesh.chaos.stackenv import ChaosStack, Ports
from mlmesh.workload.generator import Workload, WorkloadConfig

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000


@dataclass
class RunConfig:
    events: int = 20_000
    docs: int = 1_000
    users: int = 300
    stream_s: float = 90.0
    kills_per_service: int = 1
    pauses_per_store: int = 1
    replays: int = 2
    broker_kills: int = 1
    resend_p: float = 0.05
    seed: int | None = None
    port_base: int = 29600
    state_dir: Path | None = None
    drain_timeout_s: float = 600.0
    session_gap_s: int = 1800
    only: list[str] | None = None
    keep_up: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    cluster: bool = False  # the cluster profile's three brokers, and their faults

    def resolved_seed(self) -> int:
        if self.seed is not None:
            return self.seed
        env = os.environ.get("MLMESH_CHAOS_SEED")
        return int(env) if env else random.SystemRandom().randrange(1, 2**31)


@dataclass
class RunReport:
    seed: int
    config: dict[str, object]
    components: list[str]
    missing_components: list[str]
    failed_components: dict[str, str]
    startup_s: dict[str, float]
    faults: list[dict[str, object]]
    send: dict[str, object]
    predictions: dict[str, object]
    drain: dict[str, object]
    audit: AuditReport
    leftovers: list[str]
    seconds: float
    # each component's status detail once up ("2/2 replicas serving", "job
    # running, 2 taskmanagers, ...")
    topology: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.audit.ok and not self.leftovers and not self.failed_components
                and all(f["ok"] for f in self.faults))

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "seed": self.seed, "config": self.config,
                "components": self.components, "topology": self.topology,
                "missing_components": self.missing_components,
                "failed_components": self.failed_components,
                "startup_s": self.startup_s,
                "faults_injected": len(self.faults), "faults": self.faults,
                "send": self.send, "predictions": self.predictions, "drain": self.drain,
                "audit": self.audit.to_dict(), "leftovers": self.leftovers,
                "seconds": round(self.seconds, 1),
                "replay": f"MLMESH_CHAOS_SEED={self.seed}"}


def node_picker(stack: ChaosStack) -> Callable[[str], list[str]]:
    """A node target -> run records: brokers by the partitions they lead now
    (most first for ``LEADER``, fewest first for ``FOLLOWER``), TaskManagers
    by the subtasks they run (most first)."""
    from mlmesh.localstack.flink_cluster import FlinkSessionComponent
    from mlmesh.localstack.kafka_cluster import cluster_state

    def pick(target: str) -> list[str]:
        if target == BUSIEST_TM:
            comp = stack.components.get("features-job")
            if not isinstance(comp, FlinkSessionComponent):
                raise RuntimeError(f"{target}: the features job runs on no session cluster")
            return comp.busiest_taskmanagers()
        leads = cluster_state(stack.bootstrap, timeout=5.0).leaders()
        order = sorted(leads, key=lambda b: leads[b], reverse=target == LEADER)
        return [f"kafka-{b}" for b in order]
    return pick


def workload(cfg: RunConfig, seed: int) -> Workload:
    """Event times ~26 h back (inside every retention and ingest's 7-day bound),
    so one flush mark at "now" closes every window, 24 h ones included."""
    end_ms = int(time.time() * 1000) - 26 * HOUR_MS
    ratio = min(0.9, cfg.docs / max(1, cfg.events) * 1.12)  # a margin: docs are random
    return Workload(WorkloadConfig(users=cfg.users, events=cfg.events, doc_ratio=ratio,
                                   span_s=600.0, end_ms=end_ms, seed=seed))


def chaos_run(cfg: RunConfig) -> RunReport:
    seed = cfg.resolved_seed()
    log.warning("chaos seed %d (replay with MLMESH_CHAOS_SEED=%d)", seed, seed)
    t_start = time.monotonic()
    state = cfg.state_dir or Path(tempfile.mkdtemp(prefix="mlmesh-chaos-"))
    stack = ChaosStack(state, Ports(cfg.port_base, cluster=cfg.cluster), cfg.extra_env,
                       cfg.only)
    wl = workload(cfg, seed)
    records = list(wl.records())
    docs = [r for r in records if r.kind == "document"]
    if len(docs) > cfg.docs:  # exactly the asked-for number of documents
        keep = {id(r) for r in docs[:cfg.docs]}
        records = [r for r in records if r.kind != "document" or id(r) in keep]
    startup: dict[str, float] = {}
    topology: dict[str, str] = {}
    leftovers: list[str] = []
    runner: FaultRunner | None = None
    prober: Prober | None = None
    try:
        startup = stack.up()
        names = stack.names()  # what really runs (a component that failed is out)
        topology = {n: stack.components[n].status().detail for n in names}
        faults = plan(seed, names, cfg.stream_s, cfg.kills_per_service, cfg.broker_kills,
                      cfg.pauses_per_store, cfg.replays, cluster=cfg.cluster)
        for f in faults:
            log.warning("planned fault: %s", f.describe())
        runner = FaultRunner(faults, ProcessControl(stack.run_dir), stack.restart,
                             lambda topic, n: replay(stack.bootstrap, topic, n, seed + n),
                             nodes=node_picker(stack) if cfg.cluster else None)
        sender = IngestSender(stack.ports.replicas(stack.ports.ingest_grpc), seed,
                              resend_p=cfg.resend_p)
        if stack.has("inference"):
            prober = Prober(stack.ports.replicas(stack.ports.inference_grpc),
                            sorted({u.user_id for u in wl.users}), seed)
            prober.start()
        runner.start()
        stats = sender.send(records, cfg.stream_s)
        sender.close()
        runner.join(timeout=max(60.0, cfg.stream_s * 3))
        runner.stop.set()
        if prober is not None:
            prober.close()
        for name in names:  # whatever a fault left down comes back before the audit
            if not stack.healthy(name):
                try:
                    runner.restart_until_up(name)
                except Exception as exc:  # recorded (fails the run); the audit goes on
                    stack.failed[name] = f"did not come back after the faults: {exc}"[:2000]
                    log.error("%s did not come back: %s", name, exc)
        flushed = flush_marks(stack.bootstrap)
        log.warning("stream sent; %d flush marks; draining", flushed)
        drain = wait_drained(stack.bootstrap, cfg.drain_timeout_s,
                             expect_groups=[g for g, c in (("embedder", "embedder"),
                                                           ("feature-writer", "feature-writer"))
                                            if stack.has(c)])
        audit = run_audit(AuditInput(
            stack.bootstrap, stack.state_dir, stack.env.get("MLMESH_MILVUS_URI", "")
            if stack.has("embedder") else "", cfg.session_gap_s, ("zz-",),
            frozenset(stats.accepted_ids.get("user_event", set())),
            frozenset(prober.answered) if prober else frozenset(),
            acked_doc_ids=frozenset(stats.accepted_ids.get("document", set()))))
    finally:
        if runner is not None:
            runner.stop.set()
        if not cfg.keep_up:
            leftovers = stack.down()
    return RunReport(
        seed=seed, config={k: v for k, v in vars(cfg).items() if k != "extra_env"
                           and not isinstance(v, Path)},
        components=stack.names(), missing_components=stack.missing,
        failed_components=stack.failed, startup_s=startup,
        faults=[{**r.to_dict(), "started_at_ms": (runner.t0_epoch_ms if runner else 0)
                 + int(r.started_s * 1000)} for r in (runner.results if runner else [])],
        send=stats.to_dict(),
        predictions={"answered": len(prober.answered), "attempts": prober.attempts,
                     "failed": dict(prober.failed)} if prober else {"skipped": "no inference"},
        drain=drain, audit=audit, leftovers=leftovers, seconds=time.monotonic() - t_start,
        topology=topology)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlmesh.chaos.run", description=__doc__)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--docs", type=int, default=1_000)
    p.add_argument("--stream-seconds", type=float, default=90.0)
    p.add_argument("--kills", type=int, default=1, help="SIGKILLs per service")
    p.add_argument("--seed", type=int)
    p.add_argument("--port-base", type=int, default=29600)
    p.add_argument("--only", nargs="*", help="components to run (default: all registered)")
    p.add_argument("--cluster", action="store_true",
                   help="the cluster profile: three brokers, and broker faults")
    p.add_argument("--out", type=Path, default=Path("bench/results/chaos.json"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rep = chaos_run(RunConfig(events=args.events, docs=args.docs, stream_s=args.stream_seconds,
                              kills_per_service=args.kills, seed=args.seed,
                              port_base=args.port_base, only=args.only,
                              cluster=args.cluster))
    sys.stdout.write(rep.audit.table() + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep.to_dict(), indent=2, default=str))
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
