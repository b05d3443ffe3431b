"""``mlmesh features --user U [--json]``: a user's online features via Feast,
with each view's window end and age. Feast is imported only when run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("features", help="show a user's online features (Feast)")
    p.add_argument("--user", required=True, help="user_id")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def lookup(user: str, now: float | None = None) -> dict[str, Any]:
    from features.settings import Settings
    from features.store import FeastStore

    settings = Settings()
    store = FeastStore(settings.state_dir, settings.feast_online, settings.redis_url,
                       settings.offline_dir)
    now = time.time() if now is None else now
    views: dict[str, Any] = {}
    for item in store.read_user(user):
        end = item.window_end
        views[item.view] = {
            "window_end": end.isoformat() if end else None,
            "age_s": round(now - end.timestamp(), 3) if end else None,
            "values": item.values,
        }
    return {"user_id": user, "views": views}


def run(args: argparse.Namespace) -> int:
    result = lookup(args.user)
    out = sys.stdout
    if args.json:
        out.write(json.dumps(result, indent=2, default=str) + "\n")
        return 0
    found = False
    for view, info in result["views"].items():
        if info["window_end"] is None:
            out.write(f"{view}: (no data)\n")
            continue
        found = True
        out.write(f"{view}  window_end={info['window_end']}  age={info['age_s']:.1f}s\n")
        for name, value in info["values"].items():
            out.write(f"  {name:<28} {value}\n")
    return 0 if found else 1
