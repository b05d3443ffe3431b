"""``mlmesh alerts [--json] [--from-topic]``: what is firing.

By default asks the monitor (``--url``, ``$MLMESH_MONITOR_URL``); with
``--from-topic`` reads the ``alerts`` topic itself (latest record per rule and
label set), which works without a running monitor.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from mlmesh.common import ports


def _from_topic(bootstrap: str, topic: str, timeout: float) -> list[dict[str, Any]]:
    from mlmesh.events.v1 import alert_pb2
    from mlmesh.kafka.read import read_to_end

    latest: dict[str, dict[str, Any]] = {}
    for msg in read_to_end(bootstrap, topic, timeout=timeout, strict=False,
                           group_prefix="mlmesh-cli-"):
        a = alert_pb2.Alert.FromString(msg.value() or b"")
        labels = dict(a.labels)
        key = a.rule + json.dumps(labels, sort_keys=True)
        latest[key] = {"rule": a.rule, "severity": alert_pb2.Severity.Name(a.severity)
                       .removeprefix("SEVERITY_").lower(), "value": a.value,
                       "threshold": a.threshold, "labels": labels, "resolved": a.resolved,
                       "message": a.message, "at": a.raised_at.ToMilliseconds() / 1000}
    return [a for a in latest.values() if not a["resolved"]]


def cmd_alerts(args: argparse.Namespace) -> int:
    from mlmesh import monitoring_client

    if args.from_topic:
        from mlmesh.common.settings import MeshSettings

        bootstrap = args.bootstrap or MeshSettings().kafka_bootstrap
        try:
            firing = _from_topic(bootstrap, args.topic, args.timeout)
        except Exception as exc:  # any Kafka failure: report, exit 2
            sys.stderr.write(f"cannot read {args.topic} from {bootstrap}: {exc}\n")
            return 2
        data: dict[str, Any] = {"ok": True, "source": f"kafka:{args.topic}", "firing": firing}
    else:
        data = monitoring_client.alerts(args.url)
        if not data["ok"]:
            sys.stderr.write(f"monitor unreachable at {data['url']}: {data['error']}\n"
                             "(start it with `python -m monitor`, or use --from-topic)\n")
            return 2
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"firing alerts ({len(data['firing'])})", title_justify="left")
    for col in ("rule", "severity", "value", "labels", "since"):
        table.add_column(col)
    for a in data["firing"]:
        since = a.get("fired_at") or a.get("at") or 0
        table.add_row(a["rule"], a["severity"], f"{a['value']:.4g}",
                      " ".join(f"{k}={v}" for k, v in sorted(a["labels"].items())),
                      time.strftime("%H:%M:%S", time.localtime(since)) if since else "-")
    Console(highlight=False, soft_wrap=True).print(table)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("alerts", help="list firing alerts (from the monitor)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--url", default=None, help="monitor URL (default $MLMESH_MONITOR_URL "
                   f"or http://127.0.0.1:{ports.MONITOR_HTTP})")
    p.add_argument("--from-topic", action="store_true",
                   help="read the alerts topic instead of asking the monitor")
    p.add_argument("--topic", default="alerts", help="alerts topic (with --from-topic)")
    p.add_argument("--bootstrap", default=None, help="Kafka bootstrap (with --from-topic)")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to read the topic")
    p.set_defaults(func=cmd_alerts)
