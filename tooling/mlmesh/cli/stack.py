"""``mlmesh up | status | down | topics``: drive the local stack."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from mlmesh.common import ports


def _names(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [n.strip() for n in raw.split(",") if n.strip()]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _tls(enabled: bool) -> None:
    """``--tls``: the local CA and certificates (mlmesh.devtls), handed to ingest
    and inference by the mesh-wide TLS variables; clients follow the marker."""
    import os

    from mlmesh.devtls import disable_dev_tls, ensure_dev_tls
    from mlmesh.localstack.paths import default_state_dir

    state = default_state_dir()
    if not enabled:
        disable_dev_tls(state)
        return
    server, _client = ensure_dev_tls(state)
    os.environ.update(MLMESH_TLS_CERT=str(server.cert), MLMESH_TLS_KEY=str(server.key),
                      MLMESH_TLS_CLIENT_CA=str(server.client_ca))


def cmd_up(args: argparse.Namespace) -> int:
    from mlmesh.localstack import stack

    out = _console()
    _tls(args.tls)
    try:
        if args.profile:
            import os

            stack.select_profile(args.profile)
            os.environ["MLMESH_STACK_PROFILE"] = args.profile
        started = stack.up(_names(args.only), timeout=args.timeout)
    except (RuntimeError, TimeoutError, ValueError) as exc:
        out.print(f"[red]up failed:[/red] {exc}")
        out.print("Stop what did start with: mlmesh down")
        return 1
    for st in started:
        addrs = "  ".join(f"{k}={v}" for k, v in st.addresses.items())
        out.print(f"[green]up[/green]  {st.name:<12} {addrs}")
    return 0


def _components_table(data: dict[str, Any]) -> Table:
    table = Table(title=f"mlmesh stack ({data['state_dir']})", title_justify="left")
    for col in ("component", "state", "pid", "address", "detail"):
        table.add_column(col, no_wrap=col != "detail")
    for c in data["components"]:
        if c.get("replicas"):  # one row for the set, one per replica under it
            table.add_row(c["name"], _state(c), "", "", c["detail"])
            for r in c["replicas"]:
                table.add_row(f"  {r['name']}", *_row(r))
        else:
            table.add_row(c["name"], *_row(c))
    return table


def _state(c: dict[str, Any]) -> str:
    return ("[green]healthy[/green]" if c["healthy"]
            else "[yellow]unhealthy[/yellow]" if c["running"] else "[dim]stopped[/dim]")


def _row(c: dict[str, Any]) -> tuple[str, str, str, str]:
    addrs = "\n".join(f"{k}={v}" for k, v in c["addresses"].items())
    return _state(c), str(c["pid"] or "-"), addrs, c["detail"]


def _topics_table(topics: list[dict[str, Any]]) -> Table:
    table = Table(title="topics", title_justify="left")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("messages", justify="right")
    table.add_column("end offsets")
    for t in topics:
        table.add_row(t["name"], str(t["partitions"]), str(t["messages"]),
                      ",".join(str(o) for o in t["end_offsets"]))
    return table


def _what_value(title: str, data: dict[str, Any], failed: str) -> tuple[Table, bool]:
    """A two-column table; with ``data['error']``, that as its only row
    (``failed`` names what did not answer) and False: nothing more to add."""
    table = Table(title=title, title_justify="left")
    table.add_column("what")
    table.add_column("value")
    if "error" in data:
        table.add_row(failed, f"[red]{data['error']}[/red]")
        return table, False
    return table, True


def _cluster_table(cluster: dict[str, Any]) -> Table:
    table, ok = _what_value("kafka cluster", cluster, "metadata")
    if not ok:
        return table
    table.add_row("brokers", ", ".join(str(b) for b in cluster["brokers"]))
    table.add_row("active controller", str(cluster["controller"]))
    table.add_row("partition leaders", "  ".join(f"broker {b}: {n}"
                                                 for b, n in cluster["leaders"].items()))
    for key in ("under_replicated", "offline"):
        items = cluster[key]
        shown = f"[yellow]{len(items)}[/yellow]: {', '.join(items[:6])}" if items else "0"
        table.add_row(key.replace("_", "-") + " partitions", shown)
    return table


def _flink_table(flink: dict[str, Any]) -> Table:
    table, ok = _what_value("flink cluster", flink, "jobmanager")
    if not ok:
        return table
    table.add_row("features job", f"{flink['job']}, parallelism {flink['parallelism']}")
    table.add_row("slots", str(flink["slots"]))
    for name, state in flink["taskmanagers"].items():
        table.add_row(name, state if state != "down" else "[yellow]down[/yellow]")
    return table


def _monitor_table(head: dict[str, Any]) -> Table:
    table = Table(title="monitor headline", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if not head.get("ok", True):
        table.add_row("monitor", f"unreachable: {head.get('error', '')}")
        return table
    for key, value in head.items():
        if key == "ok":
            continue
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown[:80])
    return table


def cmd_status(args: argparse.Namespace) -> int:
    from mlmesh.localstack import stack

    data: dict[str, Any] = stack.status(with_topics=not args.no_topics).to_dict()
    monitor = next((c for c in data["components"] if c["name"] == "monitor"), None)
    if monitor is not None and monitor["healthy"]:
        from mlmesh.monitoring_client import headline

        data["monitor"] = headline(monitor["addresses"].get("dashboard", "").rstrip("/") or None)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out = _console()
        out.print(_components_table(data))
        if data.get("kafka_cluster"):
            out.print(_cluster_table(data["kafka_cluster"]))
        if data.get("flink_cluster"):
            out.print(_flink_table(data["flink_cluster"]))
        if data["topics"]:
            out.print(_topics_table(data["topics"]))
        if data["topics_error"]:
            out.print(f"[red]topics: {data['topics_error']}[/red]")
        if data.get("monitor"):
            out.print(_monitor_table(data["monitor"]))
    comps = data["components"]
    return 0 if all(c["healthy"] or not c["running"] for c in comps) else 1


def cmd_down(args: argparse.Namespace) -> int:
    from mlmesh.localstack import stack

    out = _console()
    report = stack.down(_names(args.only), timeout=args.timeout)
    for name in report.stopped:
        out.print(f"[green]down[/green] {name}")
    if not report.stopped:
        out.print("nothing was running")
    for left in report.leftovers:
        out.print(f"[red]leftover:[/red] {left}")
    if not report.clean:
        return 1
    return _reset(out, yes=True) if getattr(args, "purge", False) else 0


def _reset(out: Console, yes: bool) -> int:
    from mlmesh.localstack.paths import default_state_dir
    from mlmesh.localstack.state import reset

    state = default_state_dir()
    plan = reset(state, dry_run=True)
    if not plan.removed:
        out.print(f"no runtime state in {state}")
        return 0
    out.print(f"runtime state in {state} ({plan.bytes_removed / 1e6:.1f} MB): "
              f"{', '.join(plan.removed)}; kept: {', '.join(plan.kept) or 'nothing'}")
    if not yes:
        if not sys.stdin.isatty():
            out.print("[red]not removed:[/red] confirm with --yes (stdin is not a terminal)")
            return 1
        if input("remove it? [y/N] ").strip().lower() not in {"y", "yes"}:
            out.print("nothing removed")
            return 1
    done = reset(state)
    out.print(f"[green]removed[/green] {', '.join(done.removed)}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """Stop the stack, then remove every piece of its runtime state together."""
    from mlmesh.localstack import stack

    out = _console()
    report = stack.down(timeout=args.timeout)
    if not report.clean:
        out.print(f"[red]not reset:[/red] left over after stopping: {report.leftovers}")
        return 1
    return _reset(out, yes=args.yes)


def cmd_topics_create(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlmesh.kafka.topics import ensure_topics, load_topics
    from mlmesh.localstack.stack import StackContext

    ctx = StackContext()
    bootstrap = args.bootstrap or ctx.kafka_bootstrap
    specs = load_topics(Path(args.file) if args.file else None)
    if ctx.profile == "cluster":  # as `mlmesh up` declares them there
        from mlmesh.localstack.kafka_cluster import durable

        specs = [durable(s) for s in specs]
    created = ensure_topics(bootstrap, specs, timeout=args.timeout)
    _console().print(f"{len(specs)} topics declared, {len(created)} created"
                     + (f": {', '.join(created)}" if created else ""))
    return 0


def cmd_topics_list(args: argparse.Namespace) -> int:
    from mlmesh.kafka.topics import describe_topics
    from mlmesh.localstack.stack import StackContext

    bootstrap = args.bootstrap or StackContext().kafka_bootstrap
    topics = [t.to_dict() for t in describe_topics(bootstrap, include_internal=args.all)]
    if args.json:
        sys.stdout.write(json.dumps(topics, indent=2) + "\n")
    else:
        _console().print(_topics_table(topics))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("up", help="start the local stack (Kafka first), wait until healthy")
    p.add_argument("--only", help="comma-separated components, e.g. kafka,milvus")
    p.add_argument("--timeout", type=float, default=180.0, help="per component, seconds")
    p.add_argument("--profile", choices=("single", "cluster"),
                   help="single: one process per engine (the default); cluster: three Kafka "
                        "brokers, every topic at replication factor 3 with "
                        "min.insync.replicas=2, and the features job on a Flink session "
                        "cluster (a JobManager, two TaskManagers, parallelism 2); recorded "
                        "in the state dir")
    p.add_argument("--tls", action="store_true",
                   help="ingest and inference serve mutual TLS with a local CA and "
                        "certificates (<state dir>/tls); the CLI uses them")
    p.set_defaults(func=cmd_up)

    p = subparsers.add_parser("status", help="each component's address and health, and topics")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-topics", action="store_true", help="skip topic offsets")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("down", help="stop the stack; fails if a process or port is left")
    p.add_argument("--only", help="comma-separated components")
    p.add_argument("--timeout", type=float, default=30.0, help="per component, seconds")
    p.add_argument("--purge", action="store_true",
                   help="then remove the runtime state too (as `mlmesh reset --yes`)")
    p.set_defaults(func=cmd_down)

    p = subparsers.add_parser("reset", help="stop the stack and remove all its runtime state "
                              "(Kafka, checkpoints, Feast, Milvus, ...); keeps built artefacts")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.add_argument("--timeout", type=float, default=30.0, help="per component, seconds")
    p.set_defaults(func=cmd_reset)

    p = subparsers.add_parser("topics", help="apply deploy/topics.yaml, list topics")
    tsub = p.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="create/alter topics from topics.yaml (idempotent)")
    c.add_argument("--file", help="topics file (default deploy/topics.yaml)")
    c.add_argument("--bootstrap", help="default $MLMESH_KAFKA_BOOTSTRAP or "
                   f"127.0.0.1:{ports.KAFKA}")
    c.add_argument("--timeout", type=float, default=60.0)
    c.set_defaults(func=cmd_topics_create)
    c = tsub.add_parser("list", help="topics with partitions and end offsets")
    c.add_argument("--bootstrap", help="default $MLMESH_KAFKA_BOOTSTRAP or "
                   f"127.0.0.1:{ports.KAFKA}")
    c.add_argument("--all", action="store_true", help="include internal topics")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_topics_list)
