"""``mlmesh features --user U [--at MS] [--json]``: a user's served features
as of now (or ``--at``), computed from the user's tiles in Feast's online
store by ``features.tiles.features_at``, the definition inference and the
offline store use. Feast is imported only when run."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("features", help="show a user's served features (Feast)")
    p.add_argument("--user", required=True, help="user_id")
    p.add_argument("--at", type=int, default=None,
                   help="read time, epoch ms (default: now; at least the user's newest event)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def lookup(user: str, at_ms: int | None = None) -> dict[str, Any]:
    from features.catalog import VIEWS
    from features.settings import Settings
    from features.store import FeastStore
    from features.tile_store import TileStore
    from features.tiles import features_at

    settings = Settings()
    feast = FeastStore(settings.state_dir, settings.feast_online, settings.redis_url,
                       settings.offline_dir)
    tiles = TileStore(feast, settings.session_gap_s * 1000)
    state = tiles.read([user]).get(user)
    now = int(time.time() * 1000) if at_ms is None else at_ms
    if state is None:
        return {"user_id": user, "found": False, "at_ms": now, "views": {}}
    values = features_at(state, max(now, state.newest_ms), settings.session_gap_s * 1000)
    views = {name: {f: values[f] for f in spec.features} for name, spec in VIEWS.items()}
    return {"user_id": user, "found": True, "at_ms": now,
            "newest_event_ms": state.newest_ms,
            "age_s": round(max(0, now - state.newest_ms) / 1000, 3),
            "tiles": {"minute": len(state.minute), "hour": len(state.hour),
                      "sessions": len(state.sessions)},
            "views": views}


def run(args: argparse.Namespace) -> int:
    result = lookup(args.user, args.at)
    out = sys.stdout
    if args.json:
        out.write(json.dumps(result, indent=2, default=str) + "\n")
        return 0 if result["found"] else 1
    if not result["found"]:
        out.write(f"{args.user}: no events seen (inference serves the documented defaults)\n")
        return 1
    out.write(f"{args.user}  as of {result['at_ms']}  newest event {result['age_s']:.1f}s ago\n")
    for view, values in result["views"].items():
        out.write(f"{view}\n")
        for name, value in values.items():
            out.write(f"  {name:<28} {value:g}\n")
    return 0
