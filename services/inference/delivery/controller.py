"""The progressive delivery of one model version (``mlmesh rollout start``):

    shadow -> canary 5 % -> 25 % -> 50 % -> [approval] -> primary (100 %)

Each step is written to the rollout log (every replica follows it), mirrored
onto the registry, and held for ``hold_s`` while the gates
(:mod:`inference.delivery.gates`) watch what was served since the step began.
A breach rolls the version out of traffic at once and records why: in the
rollout log, on the registry (tag ``mlmesh.rollback_reason``) and on the alerts
topic. Promotion past a step needs every gate measured and passed; a step that
cannot gather ``min_requests`` answers within ``max_hold_s`` is rolled back as
"insufficient traffic" (nothing is promoted on no evidence).

Before anything changes, the candidate is checked: known to the repository (and
to the registry, when one is used), its card's features equal the serving
contract, and Triton scores a row with it. Any failure is an error and the
policy is untouched.

Triton follows the log (explicit model control): loaded are the versions the
policy routes (primary, canary, shadow) and the last ``KEEP_DEPLOYED`` primaries,
so a rollback to any of them is instant; a version rolled back is unloaded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from inference.contract import FEATURE_NAMES, SCORER_MODEL
from inference.delivery.gates import GateConfig, Verdict
from inference.delivery.traffic import PredictionTap
from inference.router import PolicySource, RoutingPolicy
from inference.settings import Settings
from inference.training.tracking import Registry
from inference.triton import TritonFailed, TritonGateway
from mlmesh.events.v1 import alert_pb2
from mlmesh.kafka.config import producer_config

log = logging.getLogger(__name__)
SHARES = (0.05, 0.25, 0.5)
KEEP_DEPLOYED = 3


def keep_loaded(source: PolicySource, policy: RoutingPolicy, also: tuple[str, ...] = (),
                keep: int = KEEP_DEPLOYED) -> list[str]:
    """The versions Triton keeps loaded under ``policy``: those it routes, the
    last ``keep`` distinct primaries (from the rollout log's history, or the
    policy's ``previous``), and ``also``."""
    history = getattr(source, "history", None)
    primaries: list[str] = []
    for p in ([e.policy for e in history()] if history is not None else []) + [policy]:
        if p.primary and (not primaries or primaries[-1] != p.primary):
            primaries = [v for v in primaries if v != p.primary] + [p.primary]
    if policy.previous and policy.previous not in primaries:
        primaries.insert(0, policy.previous)
    wanted = {*primaries[-keep:], *policy.versions(), *also}
    return sorted((v for v in wanted if v), key=int)


class RolloutRefused(ValueError):
    """The candidate cannot start a rollout; nothing was changed."""


@dataclass(frozen=True)
class Plan:
    hold_s: float = 30.0
    max_hold_s: float = 120.0
    shares: tuple[float, ...] = SHARES
    shadow: bool = True  # False: straight to the first canary share
    require_approval: bool = False
    approval_timeout_s: float = 3600.0
    gates: GateConfig = field(default_factory=GateConfig)
    tick_s: float = 0.25


@dataclass
class Outcome:
    version: str
    promoted: bool
    step: str                       # the step it ended in
    reason: str = ""                # why it was rolled back (or stopped)
    steps: list[dict[str, Any]] = field(default_factory=list)
    rolled_back_at_ms: int = 0


def check_candidate(version: str, settings: Settings, triton: TritonGateway,
                    registry: Registry | None, loaded: tuple[str, ...] = ()) -> None:
    """Refuses (RolloutRefused) a version that cannot serve; loads it on Triton
    beside ``loaded`` (else with every published version) when it is not yet."""
    if not version.isdigit():
        raise RolloutRefused(f"version must be a number, got {version!r}")
    vdir = settings.repository_path() / SCORER_MODEL / version
    if not (vdir / "model.onnx").exists():
        raise RolloutRefused(f"{SCORER_MODEL} version {version} is unknown: no {vdir}/model.onnx "
                             "(`mlmesh train` publishes versions)")
    if registry is not None and version not in registry.versions():
        raise RolloutRefused(f"{SCORER_MODEL} version {version} is not registered in MLflow "
                             f"({registry.uri})")
    card_path = vdir / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    if list(card.get("features", [])) != list(FEATURE_NAMES):
        raise RolloutRefused(
            f"version {version}'s input signature disagrees with the feature contract: its "
            f"card lists {len(card.get('features', []))} features "
            f"{card.get('features', [])[:3]}..., serving sends {len(FEATURE_NAMES)} "
            f"{list(FEATURE_NAMES)[:3]}...")
    if not triton.version_ready(version):
        try:  # published after Triton's last repository load: load it now
            if loaded:
                triton.load_versions([*loaded, version])
            else:
                triton.load_scorer()
        except TritonFailed as exc:
            raise RolloutRefused(f"version {version} fails to load on Triton: {exc}") from exc
        if not triton.version_ready(version):
            raise RolloutRefused(f"version {version} is not ready on Triton after a "
                                 "repository load (does Triton read this repository?)")
    try:
        triton.score(version, [[0.0] * len(FEATURE_NAMES)], 5.0)
    except TritonFailed as exc:
        raise RolloutRefused(f"version {version} fails to score on Triton: {exc}") from exc


class Controller:
    def __init__(self, settings: Settings, source: PolicySource, plan: Plan,
                 registry: Registry | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 stop: threading.Event | None = None,
                 triton: TritonGateway | None = None) -> None:
        """``triton``: make Triton follow each change (see the module docstring)."""
        self.s, self.source, self.plan, self.registry = settings, source, plan, registry
        self.triton = triton
        self._followers: ThreadPoolExecutor | None = None  # one per run()
        self.on_event = on_event or (lambda _kind, _data: None)
        self.stop = stop or threading.Event()

    # -- the policy --------------------------------------------------------
    def _write(self, action: str, version: str, **fields: Any) -> RoutingPolicy:
        def change(p: RoutingPolicy) -> RoutingPolicy:
            return p.changed(action, version=version, **fields)
        policy = self.source.update(change)
        assert policy is not None
        self._follow(policy)
        return policy

    def _follow(self, policy: RoutingPolicy, rolled_back: str = "", reason: str = "") -> None:
        """The registry's aliases and Triton's loaded versions after a change,
        in order, off the gate loop (a Triton load takes ~1.5 s, and the gates
        must keep reading meanwhile); best effort: the rollout log has already
        changed traffic. :meth:`run` waits for them before it returns."""
        assert self._followers is not None, "_follow outside run()"
        self._followers.submit(self._follow_now, policy, rolled_back, reason)

    def _follow_now(self, policy: RoutingPolicy, rolled_back: str, reason: str) -> None:
        if self.registry is not None:
            self.registry.mirror(policy, rolled_back=rolled_back, reason=reason)
        if self.triton is not None:
            try:
                self.triton.load_versions(keep_loaded(self.source, policy))
            except Exception as exc:  # nobody awaits this future: say it here
                log.warning("Triton did not follow the rollout", extra={"error": str(exc)})

    def _rollback(self, version: str, reason: str, metric: str) -> int:
        """Out of traffic now; the epoch ms the rollback was written."""
        policy = self.source.update(lambda p: p.rollback(version, reason=reason))
        written = int(time.time() * 1000)
        self._alert(version, reason, metric)
        if policy is not None:
            self._follow(policy, rolled_back=version, reason=reason)
        return written

    def _alert(self, version: str, reason: str, metric: str) -> None:
        alert = alert_pb2.Alert(alert_id=uuid.uuid4().hex, rule="rollout_gate", metric=metric,
                                severity=alert_pb2.SEVERITY_CRITICAL, message=reason,
                                labels={"model_name": SCORER_MODEL, "model_version": version})
        alert.raised_at.GetCurrentTime()
        producer = Producer(producer_config(self.s.kafka_bootstrap, "rollout-controller",
                                            extra=self.s.kafka_extra(), linger_ms=0))
        failed: list[str] = []
        producer.produce(self.s.alerts_topic, key=f"rollout_gate/{SCORER_MODEL}/{version}",
                         value=alert.SerializeToString(),
                         on_delivery=lambda err, _m: failed.append(str(err)) if err else None)
        if producer.flush(10) or failed:
            log.error("rollback alert not delivered", extra={"error": ";".join(failed)})

    # -- the walk ----------------------------------------------------------
    def run(self, version: str) -> Outcome:
        start = self.source.load() or RoutingPolicy()
        if not start.primary:
            raise RolloutRefused("no primary version in the rollout log: set one first "
                                 "(`mlmesh rollout set --primary N`)")
        if version == start.primary:
            raise RolloutRefused(f"version {version} is already the primary")
        primary = start.primary
        out = Outcome(version, False, "")
        self._followers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollout-follow")
        tap = PredictionTap(self.s.kafka_bootstrap, self.s.predictions_topic,
                            self.s.kafka_extra(), labels_topic=self.s.labels_topic)
        try:
            tap.seek(int(time.time() * 1000))
            steps: list[tuple[str, dict[str, Any]]] = [("shadow", {"shadow": version,
                                                                   "canary": "",
                                                                   "canary_share": 0.0})]
            if not self.plan.shadow:
                steps = []
            steps += [(f"canary {share:.0%}", {"canary": version, "canary_share": share,
                                               "shadow": ""}) for share in self.plan.shares]
            for name, fields in steps:
                out.step = name
                verdict, why = self._hold(tap, version, primary, name, fields)
                out.steps.append({"step": name, **verdict.figures})
                if why:
                    return self._fail(out, version, why, verdict)
            if self.plan.require_approval:
                out.step = "awaiting approval"
                why = self._await_approval(tap, version, primary)
                if why:
                    return self._fail(out, version, why, Verdict())
            policy = self.source.update(lambda p: p.promote(version))
            if policy is not None:
                self._follow(policy)
            out.step, out.promoted = "primary", True
            self.on_event("promoted", {"version": version, "previous": primary})
            return out
        finally:
            tap.close()
            self._followers.shutdown(wait=True)
            self._followers = None

    def _fail(self, out: Outcome, version: str, why: str, verdict: Verdict) -> Outcome:
        metric = "error_rate" if "error rate" in why else "latency_p99" if "p99" in why else \
            "score_psi" if "PSI" in why else "auc" if "AUC" in why else "rollout"
        if not why.startswith("stopped"):
            out.rolled_back_at_ms = self._rollback(version, f"{out.step}: {why}", metric)
        out.reason = why
        self.on_event("rolled_back" if out.rolled_back_at_ms else "stopped",
                      {"version": version, "step": out.step, "reason": why})
        return out

    def _still_ours(self, version: str, fields: dict[str, Any]) -> bool:
        p = self.source.load() or RoutingPolicy()
        key = "shadow" if fields.get("shadow") else "canary"
        return getattr(p, key) == version

    def _hold(self, tap: PredictionTap, version: str, primary: str, name: str,
              fields: dict[str, Any]) -> tuple[Verdict, str]:
        self._write(f"rollout {name}", version, **fields)
        begun = time.monotonic()
        window = tap.window(version, primary, int(time.time() * 1000))
        self.on_event("step", {"version": version, "step": name})
        verdict = Verdict()
        while True:
            tap.drain()
            verdict = window.verdict(self.plan.gates, latency=name != "shadow")
            held = time.monotonic() - begun
            if verdict.breach:
                return verdict, verdict.breach
            if self.stop.is_set():
                return verdict, f"stopped at {name} (the policy stays as it is)"
            if not self._still_ours(version, fields):
                return verdict, "stopped: the version was taken out of traffic outside " \
                                "the controller (an alert or `mlmesh rollout rollback`)"
            if held >= self.plan.hold_s and verdict.ready:
                self.on_event("passed", {"version": version, "step": name, **verdict.figures})
                return verdict, ""
            if held >= self.plan.max_hold_s:
                return verdict, f"insufficient traffic after {held:.0f} s ({verdict.waiting})"
            time.sleep(self.plan.tick_s)

    def _await_approval(self, tap: PredictionTap, version: str, primary: str) -> str:
        asked = int(time.time() * 1000)
        self.on_event("approval", {"version": version})
        window = tap.window(version, primary, asked)
        deadline = time.monotonic() + self.plan.approval_timeout_s
        while time.monotonic() < deadline:
            tap.drain()
            verdict = window.verdict(self.plan.gates)
            if verdict.breach:
                return verdict.breach
            p = self.source.load() or RoutingPolicy()
            if any(h.get("action") == "approve" and str(h.get("version")) == version
                   and int(h.get("at_ms", 0)) >= asked for h in p.history):
                return ""
            if self.stop.is_set():
                return "stopped while awaiting approval (the policy stays as it is)"
            time.sleep(self.plan.tick_s)
        return f"not approved within {self.plan.approval_timeout_s:.0f} s"


def roll_out(settings: Settings, source: PolicySource, version: str, plan: Plan,
             registry: Registry | None,
             on_event: Callable[[str, dict[str, Any]], None] | None = None) -> Outcome:
    """Check ``version`` (loading it on Triton beside what the log keeps), then
    walk its gated rollout with Triton following: what ``mlmesh rollout start``
    and the retrainer run. RolloutRefused when the checks fail (nothing changed)."""
    triton = TritonGateway(settings.triton_grpc, settings.scorer_model,
                           settings.embedding_model)
    try:
        loaded = keep_loaded(source, source.load() or RoutingPolicy())
        check_candidate(version, settings, triton, registry, tuple(loaded))
        return Controller(settings, source, plan, registry, on_event=on_event,
                          triton=triton).run(version)
    finally:
        triton.close()
