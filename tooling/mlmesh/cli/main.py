"""Entry point of the ``mlmesh`` CLI.

Sub-commands live in sibling modules; each exposes
``register(subparsers: argparse._SubParsersAction) -> None`` and sets
``func=<callable(args) -> int>`` on its parsers. Modules are discovered, so a new
command is one new file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import mlmesh.cli as cli_pkg

log = logging.getLogger("mlmesh.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlmesh",
        description="Drive the local mlmesh stack: up, status, down, produce, features, "
        "predict, search, rollout, alerts, train.",
    )
    parser.add_argument("--log-level", default="WARNING", help="log level for the CLI itself")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name in {"main"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"mlmesh.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _cluster_bootstrap() -> None:
    """A state dir on the cluster profile: every client command reaches Kafka
    through all three brokers (not only the first, which may be the one down),
    and ingest and inference through all their replicas (round-robin), the
    monitor's dashboard through whichever replica is active."""
    import os

    from mlmesh.localstack.stack import StackContext, entries

    try:
        ctx = StackContext()
        if ctx.profile != "cluster":
            return
        os.environ.setdefault("MLMESH_KAFKA_BOOTSTRAP", ctx.kafka_bootstrap)
        for service, var in (("ingest", "MLMESH_CLIENT_INGEST_GRPC"),
                             ("inference", "MLMESH_CLIENT_INFERENCE_GRPC")):
            addresses = getattr(entries([service])[0].build(ctx), "addresses", {})
            if var not in os.environ and "grpcs" in addresses:
                os.environ[var] = addresses["grpcs"]
        monitor = getattr(entries(["monitor"])[0].build(ctx), "addresses", {})
        dashboards = [v for k, v in sorted(monitor.items()) if k.startswith("dashboard")]
        if len(dashboards) > 1:
            os.environ.setdefault("MLMESH_MONITOR_URL", ",".join(dashboards))
    except ValueError:  # an unknown profile: `mlmesh up` reports it
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mlmesh.common.logging import configure_logging

    configure_logging(service="mlmesh-cli", level=args.log_level, json_format=False)
    if not getattr(args, "profile", None):  # `up --profile` decides the profile itself
        _cluster_bootstrap()
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
