"""`make demo` / `mlmesh demo`: the whole mesh on one machine, in one command.

1. start the real local stack (Kafka, Milvus, Triton, the PyFlink job, the
   feature writer, ingest, embedder, inference, monitor);
2. stream a synthetic workload through ingest for about a minute;
3. let the mesh drain, then call Predict and Search for a few users;
4. print a summary table and the exactly-once audit;
5. stop everything and check that no process or port is left behind.

Events and documents are stamped with the time they are sent, so event ->
served (a probe, ``mlmesh.demo_fresh``) and doc -> searchable are real.
"""

from __future__ import annotations

import json
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlmesh.client_settings import ClientSettings
from mlmesh.demo_calls import ask, documents_by_user, sample_users, search, show_answers
from mlmesh.events.v1 import dead_letter_pb2, embedding_written_pb2, feature_update_pb2
from mlmesh.workload.generator import Record, Workload, WorkloadConfig
from mlmesh.workload.sender import SendReport, send_via_ingest

# consumer groups that must have caught up before the audit
MESH_GROUPS = ("features-job", "feature-writer", "embedder", "mlmesh-monitor")


@dataclass
class DemoConfig:
    seconds: float = 60.0
    rate: float = 1500.0
    users: int = 300
    doc_ratio: float = 0.001
    predict_calls: int = 200
    keep: bool = False
    attach: bool = False  # a mesh already up (compose): start and stop nothing
    seed: int = 7


@dataclass
class DemoResult:
    startup_s: dict[str, float] = field(default_factory=dict)
    send: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False
    state_dir: str = ""
    error: str = ""  # the traceback that stopped the run, if one did


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def workload(cfg: DemoConfig) -> list[Record]:
    """The run's records, stamped with the times they will be sent at: the span
    starts now and lasts as long as the paced stream (the generator's default
    span ends now, which put every record a whole span in the past when it was
    sent and added that span to freshness and doc -> searchable)."""
    events = int(cfg.seconds * cfg.rate)
    start_ms = int(time.time() * 1000)
    recs = list(Workload(WorkloadConfig(users=cfg.users, events=events, doc_ratio=cfg.doc_ratio,
                                        span_s=cfg.seconds,
                                        end_ms=start_ms + int(cfg.seconds * 1000),
                                        seed=cfg.seed)).records())
    return recs


def start_stack(console: Console) -> dict[str, float]:
    from mlmesh.localstack import stack

    times: dict[str, float] = {}
    ctx = stack.StackContext()
    for entry in stack.entries():
        if not entry.enabled(ctx):
            continue
        t0 = time.monotonic()
        with console.status(f"starting {entry.name} ..."):
            stack.up([entry.name], ctx=ctx, timeout=300)
        times[entry.name] = round(time.monotonic() - t0, 1)
        console.print(f"  [green]up[/green] {entry.name:<15} {times[entry.name]:>6.1f} s")
    return times


def stream(records: list[Record], cfg: DemoConfig, settings: ClientSettings,
           console: Console) -> SendReport:
    """Send through ingest at the configured rate, under a live line: records/s
    acknowledged, documents embedded, features' and embedder's lag."""
    from mlmesh.demo_live import LiveStatus

    total = len(records)
    live = LiveStatus(settings.kafka_bootstrap)
    live.start()
    started = time.monotonic()
    sent = 0
    with Progress(TextColumn("[bold]streaming"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[live]}"),
                  console=console) as progress:
        task = progress.add_task("stream", total=total, live="")

        def advance(n: int) -> None:
            nonlocal sent
            sent += n
            progress.update(task, advance=n, live=live.line(sent, started))

        try:
            return send_via_ingest(records, settings.ingest_grpc, rate=total / cfg.seconds,
                                   batch=250, progress=advance, metadata=settings.metadata(),
                                   tls=settings.client_tls())
        finally:
            live.stop.set()


def wait_for_embeddings(bootstrap: str, doc_ids: set[str], timeout: float) -> int:
    """Block until every document has its EmbeddingWritten event (a group that
    has not committed a partition yet shows no lag there, so lag alone is not
    enough), or the timeout; the number seen."""
    from mlmesh.chaos.topics import read_topic

    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        seen = {embedding_written_pb2.EmbeddingWritten.FromString(r.value or b"").doc_id
                for r in read_topic(bootstrap, "embeddings_written")}
        if doc_ids <= seen:
            break
        time.sleep(2)
    return len(doc_ids & seen)


def topic_figures(bootstrap: str) -> dict[str, Any]:
    from mlmesh.chaos.topics import read_topic

    out: dict[str, Any] = {}
    written = [embedding_written_pb2.EmbeddingWritten.FromString(r.value or b"")
               for r in read_topic(bootstrap, "embeddings_written")]
    if written:
        t = sorted(w.written_at.ToMilliseconds() for w in written)
        span_s = max((t[-1] - t[0]) / 1000, 1e-3)
        out["documents_embedded"] = len({w.doc_id for w in written})
        out["documents_embedded_per_s"] = round(len(written) / span_s, 1)
        out["doc_to_searchable_p99_ms"] = round(pct([w.doc_to_searchable_ms for w in written],
                                                    99), 1)
    reasons: Counter[str] = Counter()
    for topic in ("user_events.dlq", "documents.dlq", "labels.dlq", "feature_updates.dlq"):
        for rec in read_topic(bootstrap, topic):
            dl = dead_letter_pb2.DeadLetter.FromString(rec.value or b"")
            reasons[f"{topic}: {dl.error_class}"] += 1
    out["dead_letters"] = dict(reasons)
    return out


def audit(bootstrap: str, milvus_uri: str, acked_events: set[str],
          acked_docs: set[str]) -> dict[str, Any]:
    """The demo's exactly-once audit, from the stores' own contents:

    * events: every acknowledged event is counted by the features exactly once,
      i.e. the events of every committed tile delta (``features.tiles``) add
      up to the number of unique acknowledged events;
    * documents: every acknowledged document is in Milvus with exactly the
      number of chunks the embedder's chunker makes of it, no duplicates.
    """
    from mlmesh.chaos.stores import expected_chunk_counts, milvus_chunks
    from mlmesh.chaos.topics import read_topic
    from mlmesh.demo_fresh import PROBE_PREFIX
    from mlmesh.events.v1 import document_pb2

    counted = 0.0
    for rec in read_topic(bootstrap, "feature_updates"):  # read_committed
        fu = feature_update_pb2.FeatureUpdate.FromString(rec.value or b"")
        if not fu.user_id.startswith(("zz-", PROBE_PREFIX)):
            counted += fu.values.get("events", 0.0)
    texts = {}
    for rec in read_topic(bootstrap, "documents"):
        doc = document_pb2.Document.FromString(rec.value or b"")
        if doc.doc_id in acked_docs:
            texts[doc.doc_id] = doc.text
    expected = expected_chunk_counts(texts)
    stored = milvus_chunks(milvus_uri)
    by_doc: dict[str, list[int]] = {}
    for (doc_id, _version), idx in stored.items():
        by_doc.setdefault(doc_id, []).extend(idx)
    chunk_problems = []
    for doc_id, n in expected.items():
        got = sorted(by_doc.get(doc_id, []))
        if got != list(range(n)):
            chunk_problems.append(f"{doc_id}: expected chunks 0..{n - 1}, stored {got[:12]}")
    out = {
        "events_acknowledged": len(acked_events),
        "events_counted_by_features": counted,
        "events_match": counted == len(acked_events),
        "documents_acknowledged": len(acked_docs),
        "documents_in_milvus": len(set(by_doc) & acked_docs),
        "chunks_expected": sum(expected.values()),
        "chunks_in_milvus": sum(len(by_doc.get(d, [])) for d in expected),
        "chunk_mismatches": chunk_problems[:20],
    }
    out["documents_match"] = (not chunk_problems and out["documents_in_milvus"]
                              == len(acked_docs))
    out["ok"] = bool(out["events_match"] and out["documents_match"])
    return out


def audit_table(a: dict[str, Any]) -> Table:
    table = Table(title="exactly-once audit", title_justify="left")
    for col in ("what", "acknowledged", "in the stores", "match"):
        table.add_column(col, justify="left" if col == "what" else "right")
    table.add_row("events (features: sum of tile deltas)", f"{a['events_acknowledged']:,}",
                  f"{a['events_counted_by_features']:,.0f}",
                  "yes" if a["events_match"] else "[red]NO[/red]")
    table.add_row("documents in Milvus", f"{a['documents_acknowledged']:,}",
                  f"{a['documents_in_milvus']:,}",
                  "yes" if a["documents_match"] else "[red]NO[/red]")
    table.add_row("chunks (embedder's chunker vs Milvus)", f"{a['chunks_expected']:,}",
                  f"{a['chunks_in_milvus']:,}", "yes" if not a["chunk_mismatches"]
                  else "[red]NO[/red]")
    return table


def _served_rows(by_view: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """event -> served per feature view; one row when every view saw the event
    at the same moment (one online row holds all of a user's tiles)."""
    def text(v: dict[str, Any]) -> str:
        return f"{v['p50_ms']:,.0f} / {v['p99_ms']:,.0f} ms  ({v['n']} probes)"

    values = {text(v) for v in by_view.values()}
    if len(values) == 1:
        return [("event -> served by Predict p50 / p99 (every view)", values.pop())]
    return [(f"event -> served by Predict ({view}) p50 / p99", text(v))
            for view, v in by_view.items()]


def summary_table(res: DemoResult) -> Table:
    f, s = res.figures, res.send
    table = Table(title="mlmesh demo summary", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("events ingested / s", f"{s.get('events_per_s', 0):,.0f}"),
        ("events acknowledged", f"{s.get('accepted', {}).get('user_event', 0):,}"),
        *_served_rows(f.get("event_to_served", {}).get("by_view", {})),
        ("Predict answers degraded", f"{f.get('predict_degraded', 0)}"),
        ("monitor: records behind at the audit",
         f"{f.get('drain', {}).get('lags', {}).get('mlmesh-monitor', 0):,}"),
        ("documents embedded / s", f"{f.get('documents_embedded_per_s', 0):,.1f}"),
        ("doc -> searchable p99", f"{f.get('doc_to_searchable_p99_ms', float('nan')):,.0f} ms"),
        ("Predict p50 / p99", f"{f.get('predict_p50_ms', float('nan')):.1f} / "
                              f"{f.get('predict_p99_ms', float('nan')):.1f} ms"),
        ("dead letters by reason", json.dumps(f.get("dead_letters", {})) or "none"),
        ("exactly-once audit", "PASS" if res.audit.get("ok") else "[red]FAIL[/red]"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table


def _fresh_state(console: Console, attach: bool = False) -> Path:
    """The demo runs on a state dir of its own, wiped first, so that earlier runs
    (their watermarks, checkpoints, topics) cannot make its events late.
    Attached, the mesh owns its state and the ports are meant to answer."""
    import os
    import shutil

    from mlmesh.common import ports
    from mlmesh.localstack.base import port_open
    from mlmesh.localstack.paths import default_state_dir

    busy = [p for p in ports.STACK if port_open(p)]
    if busy and not attach:
        raise SystemExit(f"ports {busy} are in use (a running `mlmesh up`?): run "
                         "`mlmesh down` first, the demo starts and stops its own stack")
    state = default_state_dir() / "demo"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    os.environ["MLMESH_STATE_DIR"] = str(state)  # read by every Settings and launcher
    console.print(f"state dir: {state}")
    return state


def run(cfg: DemoConfig, out_path: Path | None = None) -> DemoResult:
    from mlmesh.chaos.drain import wait_caught_up, wait_drained
    from mlmesh.chaos.load import flush_marks
    from mlmesh.demo_fresh import FreshnessProbe
    from mlmesh.demo_live import quiet_libraries
    from mlmesh.localstack import stack

    console = Console()
    res = DemoResult()
    console.rule("[bold]mlmesh demo: " + ("attached to a running mesh" if cfg.attach
                                          else "starting the local mesh"))
    res.state_dir = str(_fresh_state(console, cfg.attach))
    log_file = quiet_libraries(Path(res.state_dir) / "demo.log")
    console.print(f"library messages go to {log_file}")
    settings = ClientSettings()
    try:
        res.startup_s = {} if cfg.attach else start_stack(console)
        records = workload(cfg)
        console.rule(f"[bold]streaming {len(records):,} records for ~{cfg.seconds:.0f} s")
        probe = FreshnessProbe(settings)
        probe.start()
        try:
            report = stream(records, cfg, settings, console)
        finally:
            probe.stop.set()
            probe.join(30)
        res.send = {**report.as_dict(), "events_per_s": report.accepted["user_event"]
                    / max(report.seconds, 1e-3)}
        with console.status("waiting for the features to catch up ..."):
            caught_up = wait_caught_up(settings.kafka_bootstrap,
                                       ("features-job", "feature-writer"), timeout=120)
        console.print(f"features caught up {caught_up} s after the stream")
        users = sample_users(records)
        lat, res.answers = ask(settings, users, cfg.predict_calls)
        show_answers(console, res.answers)
        console.rule("[bold]draining")
        flush_marks(settings.kafka_bootstrap)
        with console.status("waiting for every consumer to catch up ..."):
            # the monitor's commit stops before the transaction markers after a
            # partition's last record (services/monitor/README.md): its lag is
            # reported, not waited for
            drain = wait_drained(settings.kafka_bootstrap, timeout=480, quiet_s=10,
                                 expect_groups=MESH_GROUPS, ignore_groups=("mlmesh-monitor",))
        doc_ids = {r.msg.doc_id for r in records if r.kind == "document"}  # type: ignore[union-attr]
        with console.status(f"waiting for {len(doc_ids)} documents to be searchable ..."):
            embedded = wait_for_embeddings(settings.kafka_bootstrap,
                                           doc_ids & set(report.accepted_ids), timeout=480)
        console.print(f"drained in {drain['seconds']} s: {drain['drained']}; "
                      f"{embedded} documents searchable")
        found = search(settings, users, documents_by_user(records, set(report.accepted_ids)))
        show_answers(console, found)
        res.answers += found
        res.figures = topic_figures(settings.kafka_bootstrap)
        res.figures["drain"] = drain
        res.figures["event_to_served"] = probe.summary()
        res.figures["predict_degraded"] = sum(
            1 for a in res.answers if a.get("call") == "Predict" and a.get("degraded"))
        res.figures["predict_p50_ms"] = round(pct(lat, 50), 2)
        res.figures["predict_p99_ms"] = round(pct(lat, 99), 2)
        kinds = {r.msg.event_id: r.kind for r in records  # type: ignore[union-attr]
                 if r.kind == "user_event"}
        acked = set(report.accepted_ids)
        res.audit = audit(settings.kafka_bootstrap, settings.milvus_uri,
                          acked & set(kinds), acked & doc_ids)
        console.print(audit_table(res.audit))
        for problem in res.audit["chunk_mismatches"][:5]:
            console.print(f"  [red]{problem}[/red]")
        console.print(summary_table(res))
        res.ok = bool(res.audit["ok"])
    except BaseException:
        res.error = traceback.format_exc(limit=12)[-4000:]
        raise
    finally:
        if not (cfg.keep or cfg.attach):
            console.rule("[bold]stopping")
            report_down = stack.down()
            console.print("clean: no process or port left" if report_down.clean
                          else f"[red]left over: {report_down.leftovers}[/red]")
        # the run's record goes under the state dir unless asked elsewhere: a
        # first run leaves the git tree as it found it
        out = out_path or Path(res.state_dir or ".") / "demo.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res.__dict__, indent=2, default=str))
        console.print(f"this run's figures: {out}")
    return res
