"""``mlmesh rollout status|set|promote|rollback``: edit the routing policy the
inference service hot-reloads (``$MLMESH_INFERENCE_ROUTING_FILE`` or
``<state>/inference/routing.yaml``).

    mlmesh rollout status [--json]
    mlmesh rollout set [--primary 1] [--canary 2 --share 0.1] [--shadow 3]
    mlmesh rollout promote [--version 2]
    mlmesh rollout rollback [--version 2] [--reason "..."]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from inference.router import PolicyStore

    if args.file:
        return PolicyStore(Path(args.file))
    from inference.settings import Settings

    configured = Settings().routing_file  # MLMESH_INFERENCE_ROUTING_FILE, as the service reads it
    if configured:
        return PolicyStore(configured)
    from mlmesh.localstack.paths import default_state_dir

    return PolicyStore(default_state_dir() / "inference" / "routing.yaml")


def _show(policy: object, as_json: bool, path: Path) -> None:
    data = policy.to_dict()  # type: ignore[attr-defined]
    if as_json:
        sys.stdout.write(json.dumps({"file": str(path), **data}, indent=2) + "\n")
        return
    lines = [f"routing policy {path}",
             f"  primary   v{data['primary'] or '-'}   (previous v{data['previous'] or '-'})",
             f"  canary    v{data['canary'] or '-'}   share {data['canary_share']:.1%}",
             f"  shadow    v{data['shadow'] or '-'}"]
    for h in data["history"][-5:]:
        lines.append(f"  history: {json.dumps(h, sort_keys=True)}")
    sys.stdout.write("\n".join(lines) + "\n")


def cmd_rollout(args: argparse.Namespace) -> int:
    from inference.router import RoutingPolicy

    store = _store(args)
    try:
        if args.action == "status":
            policy = store.load() or RoutingPolicy()
        elif args.action == "set":
            policy = store.update(lambda p: p.set(primary=args.primary, canary=args.canary,
                                                  canary_share=args.share, shadow=args.shadow))
        elif args.action == "promote":
            policy = store.update(lambda p: p.promote(args.version or ""))
        else:
            policy = store.update(lambda p: p.rollback(args.version or "",
                                                       reason=args.reason or "manual"))
            if policy is None:
                sys.stderr.write("nothing to roll back\n")
                return 1
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    _show(policy, args.json, store.path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("rollout", help="model rollouts: status, set, promote, rollback")
    p.add_argument("action", choices=["status", "set", "promote", "rollback"])
    p.add_argument("--file", help="routing policy file (default: the service's)")
    p.add_argument("--primary", help="set: primary model version")
    p.add_argument("--canary", help="set: canary version ('' clears)")
    p.add_argument("--share", type=float, help="set: canary share 0..1")
    p.add_argument("--shadow", help="set: shadow version ('' clears)")
    p.add_argument("--version", help="promote/rollback: the version (default canary)")
    p.add_argument("--reason", help="rollback: why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rollout)
