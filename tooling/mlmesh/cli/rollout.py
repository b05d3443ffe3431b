"""``mlmesh rollout``: the routing policy every inference replica follows (the
rollout log, Kafka topic ``model-rollout``; a file with ``--file`` or
``$MLMESH_INFERENCE_ROUTING_FILE``).

    mlmesh rollout status [--json]
    mlmesh rollout set [--primary 1] [--canary 2 --share 0.1] [--shadow 3]
    mlmesh rollout promote [--version 2]
    mlmesh rollout rollback [--version 2] [--reason "..."]
    mlmesh rollout start --version 3 [--hold 30] [--max-hold 120] [--require-approval]
    mlmesh rollout approve --version 3
    mlmesh rollout history [--at 2026-12-06T15:00:00Z] [--json]

``start`` walks shadow -> 5 % -> 25 % -> 50 % -> [approval] -> 100 %, holding
each step and promoting only when the gates pass (inference.delivery); a breach
rolls the version back at once, with the reason in the log, MLflow and alerts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def _source(args: argparse.Namespace) -> Any:
    from inference.control import open_policy_source
    from inference.settings import Settings

    settings = Settings()
    if args.file:
        settings = settings.model_copy(update={"routing_file": Path(args.file)})
    return open_policy_source(settings, timeout=15.0)


def _show(policy: Any, as_json: bool, where: object) -> None:
    data = policy.to_dict()
    if as_json:
        sys.stdout.write(json.dumps({"source": str(where), **data}, indent=2) + "\n")
        return
    lines = [f"routing policy {where} (revision {data['revision']})",
             f"  primary   v{data['primary'] or '-'}   (previous v{data['previous'] or '-'})",
             f"  canary    v{data['canary'] or '-'}   share {data['canary_share']:.1%}",
             f"  shadow    v{data['shadow'] or '-'}"]
    for h in data["history"][-5:]:
        lines.append(f"  history: {json.dumps(h, sort_keys=True)}")
    sys.stdout.write("\n".join(lines) + "\n")


def _at_ms(text: str) -> int:
    if text.replace(".", "", 1).isdigit():
        value = float(text)
        return int(value if value > 1e11 else value * 1000)
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1000)


def _history(source: Any, args: argparse.Namespace) -> int:
    if not hasattr(source, "history"):
        sys.stderr.write("history needs the rollout log (a policy file keeps its last 20 "
                         "changes: `mlmesh rollout status`)\n")
        return 2
    if args.at:
        policy = source.served_at(_at_ms(args.at))
        data = {"at": args.at, "primary": policy.primary if policy else "",
                "canary": policy.canary if policy else "",
                "canary_share": policy.canary_share if policy else 0.0,
                "shadow": policy.shadow if policy else "",
                "revision": policy.revision if policy else 0}
        sys.stdout.write(json.dumps(data, indent=2) + "\n" if args.json else
                         f"at {args.at}: primary v{data['primary'] or '-'}, canary "
                         f"v{data['canary'] or '-'} ({data['canary_share']:.0%}), shadow "
                         f"v{data['shadow'] or '-'} (revision {data['revision']})\n")
        return 0
    rows = [{"revision": e.policy.revision, "offset": e.offset,
             "at": datetime.fromtimestamp(e.policy.updated_at_ms / 1000, timezone.utc)
             .isoformat(timespec="seconds"),
             **(e.policy.history[-1] if e.policy.history else {}),
             "primary": e.policy.primary, "canary": e.policy.canary,
             "canary_share": e.policy.canary_share, "shadow": e.policy.shadow}
            for e in source.history()]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        for r in rows:
            sys.stdout.write(f"{r['at']}  r{r['revision']:<4} {r.get('action', ''):<22} "
                             f"primary v{r['primary'] or '-'} canary v{r['canary'] or '-'} "
                             f"({r['canary_share']:.0%}) shadow v{r['shadow'] or '-'}"
                             f"{'  ' + r['reason'] if r.get('reason') else ''}\n")
    return 0


def _start(source: Any, args: argparse.Namespace) -> int:
    from inference.delivery.controller import Plan, roll_out
    from inference.delivery.gates import GateConfig
    from inference.settings import Settings
    from inference.training.tracking import Registry

    settings = Settings()
    registry = None if args.no_registry else Registry(settings.mlflow_uri)
    plan = Plan(hold_s=args.hold, max_hold_s=max(args.max_hold, args.hold),
                require_approval=args.require_approval, shadow=not args.skip_shadow,
                gates=GateConfig(min_requests=args.min_requests, max_psi=args.max_psi,
                                 min_labels=args.min_labels, max_auc_drop=args.max_auc_drop))

    def event(kind: str, data: dict[str, Any]) -> None:
        if args.json:
            sys.stdout.write(json.dumps({"event": kind, "at": time.time(), **data}) + "\n")
        else:
            detail = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in data.items() if k != "version")
            sys.stdout.write(f"{time.strftime('%H:%M:%S')} v{args.version} {kind}: {detail}\n")
        sys.stdout.flush()

    out = roll_out(settings, source, args.version, plan, registry, on_event=event)
    return 0 if out.promoted else 1


def cmd_rollout(args: argparse.Namespace) -> int:
    from inference.delivery.controller import RolloutRefused
    from inference.router import RoutingPolicy
    from inference.training.tracking import RegistryUnavailable

    try:
        source = _source(args)
    except (TimeoutError, RuntimeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    try:
        if args.action == "history":
            return _history(source, args)
        if args.action == "start":
            if not args.version:
                sys.stderr.write("error: start needs --version\n")
                return 2
            return _start(source, args)
        if args.action == "status":
            policy = source.load() or RoutingPolicy()
        elif args.action == "set":
            policy = source.update(lambda p: p.set(primary=args.primary, canary=args.canary,
                                                   canary_share=args.share, shadow=args.shadow))
        elif args.action == "promote":
            policy = source.update(lambda p: p.promote(args.version or ""))
        elif args.action == "approve":
            if not args.version:
                sys.stderr.write("error: approve needs --version\n")
                return 2
            policy = source.update(lambda p: p.changed("approve", version=args.version))
        else:
            policy = source.update(lambda p: p.rollback(args.version or "",
                                                        reason=args.reason or "manual"))
            if policy is None:
                sys.stderr.write("nothing to roll back\n")
                return 1
    except (ValueError, RolloutRefused, RegistryUnavailable, TimeoutError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        if hasattr(source, "close"):
            source.close()
    if args.action in ("set", "promote", "rollback"):
        _mirror(policy, args)
    _show(policy, args.json, source.path)
    return 0


def _mirror(policy: Any, args: argparse.Namespace) -> None:
    """The change onto the registry's aliases and stage tags (the rollout log
    stays the source of truth: an unreachable MLflow is a warning)."""
    from inference.settings import Settings
    from inference.training.tracking import Registry, RegistryUnavailable

    try:
        registry = Registry(Settings().mlflow_uri)
    except RegistryUnavailable as exc:
        sys.stderr.write(f"warning: {exc}; the registry's aliases were not updated\n")
        return
    last = policy.history[-1] if policy.history else {}
    rolled = str(last.get("version", "")) if last.get("action") == "rollback" else ""
    registry.mirror(policy, rolled_back=rolled, reason=str(last.get("reason", "")))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("rollout", help="model rollouts: status, set, promote, rollback, "
                                       "start (gated), approve, history")
    p.add_argument("action", choices=["status", "set", "promote", "rollback", "start",
                                      "approve", "history"])
    p.add_argument("--file", help="a routing policy file instead of the rollout log")
    p.add_argument("--primary", help="set: primary model version")
    p.add_argument("--canary", help="set: canary version ('' clears)")
    p.add_argument("--share", type=float, help="set: canary share 0..1")
    p.add_argument("--shadow", help="set: shadow version ('' clears)")
    p.add_argument("--version", help="promote/rollback (default canary), start, approve")
    p.add_argument("--reason", help="rollback: why")
    p.add_argument("--hold", type=float, default=30.0, help="start: seconds per step")
    p.add_argument("--max-hold", type=float, default=120.0,
                   help="start: longest a step waits for enough traffic")
    p.add_argument("--min-requests", type=int, default=50,
                   help="start: answers of each version a step needs")
    p.add_argument("--max-psi", type=float, default=0.25,
                   help="start: largest score-distribution shift (PSI) against the primary")
    p.add_argument("--min-labels", type=int, default=50,
                   help="start: labelled predictions of each version before AUC is a gate")
    p.add_argument("--max-auc-drop", type=float, default=0.05,
                   help="start: largest AUC drop on labelled predictions against the primary")
    p.add_argument("--require-approval", action="store_true",
                   help="start: wait for `mlmesh rollout approve` before 100%%")
    p.add_argument("--skip-shadow", action="store_true",
                   help="start: straight to the first canary share")
    p.add_argument("--no-registry", action="store_true", help="start: without MLflow")
    p.add_argument("--at", help="history: which policy served at this time (ISO or epoch)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rollout)
