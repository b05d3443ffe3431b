"""``mlmesh produce``: stream a synthetic workload (or your own file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlmesh.client_settings import ClientSettings
from mlmesh.workload.generator import Workload, WorkloadConfig
from mlmesh.workload.sender import read_file, send_direct, send_via_ingest


def register(sub: Any) -> None:
    p = sub.add_parser("produce", help="stream a synthetic workload or a JSON-lines file",
                       description="Stream events, documents and labels through ingest "
                       "(gRPC) or straight to Kafka (--direct).")
    p.add_argument("--events", type=int, default=10_000, help="user events to generate")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--rate", type=float, default=0, help="records/s (0 = as fast as possible)")
    p.add_argument("--bot-fraction", type=float, default=0.1)
    p.add_argument("--doc-ratio", type=float, default=0.05, help="documents per event")
    p.add_argument("--span", type=float, default=600, help="event-time span in seconds")
    p.add_argument("--drift", action="store_true", help="shift the distribution")
    p.add_argument("--no-labels", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--from-file", type=Path, help="JSON lines with a \"type\" field")
    p.add_argument("--direct", action="store_true", help="produce straight to Kafka")
    p.add_argument("--batch", type=int, default=500, help="records per ingest request")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = ClientSettings()
    if args.from_file:
        records = list(read_file(args.from_file))
    else:
        cfg = WorkloadConfig(users=args.users, events=args.events, bot_fraction=args.bot_fraction,
                             doc_ratio=args.doc_ratio, span_s=args.span, drift=args.drift,
                             labels=not args.no_labels, seed=args.seed)
        records = list(Workload(cfg).records())
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]produce"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                  disable=args.json or not sys.stderr.isatty()) as progress:
        task = progress.add_task("produce", total=len(records), rate="")

        def advance(n: int) -> None:
            progress.advance(task, n)

        if args.direct:
            report = send_direct(records, settings.kafka_bootstrap, args.rate, advance)
        else:
            report = send_via_ingest(records, settings.ingest_grpc, args.rate, args.batch, advance,
                                     metadata=settings.metadata(), tls=settings.client_tls())
    out = report.as_dict()
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="mlmesh produce")
        for col in ("kind", "sent", "accepted", "rejected"):
            table.add_column(col, justify="right" if col != "kind" else "left")
        for kind in sorted(report.sent):
            table.add_row(kind, str(report.sent[kind]), str(report.accepted[kind]),
                          str(report.rejected[kind]))
        console = Console()
        console.print(table)
        console.print(f"{out['records_per_s']} records/s over {out['seconds']} s"
                      + (f"; errors: {out['errors']}" if report.errors else ""))
    return 0 if not report.errors.get("gave up after retries") else 1
