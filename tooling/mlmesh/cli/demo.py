"""``mlmesh demo``: start the whole local mesh, stream, answer, audit, stop."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="the whole mesh in one command (README command one)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to stream")
    p.add_argument("--rate", type=float, default=1500.0, help="events per second")
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.add_argument("--attach", action="store_true",
                   help="run against a mesh that is already up on the default addresses "
                        "(`make compose-up`, or one you point MLMESH_* at): start and stop "
                        "nothing")
    p.add_argument("--out", type=Path, default=None,
                   help="where this run's figures go (JSON; default <state dir>/demo/demo.json; "
                        "bench/results/demo.json holds a recorded run)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlmesh.demo import DemoConfig
    from mlmesh.demo import run as run_demo

    res = run_demo(DemoConfig(seconds=args.seconds, rate=args.rate, users=args.users,
                              keep=args.keep, attach=args.attach), args.out)
    return 0 if res.ok else 1
