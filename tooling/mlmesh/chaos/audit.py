"""The independent audit after the stream drains.

Reads the raw logs (``user_events``, ``documents``, their ``.dlq`` twins,
``predictions``), recomputes what the stores must hold (``reference``), reads
what they do hold (``stores``) and compares:

* features (``features_audit``): per user, the offline tile deltas (each
  Kafka position once) count the unique accepted events and documents; every
  user's tiles in Feast online serve, as of its newest event and as of now,
  the values the plain-Python reference computes from its raw events; for a
  sample of users the offline point-in-time values equal the online ones;
  counts exactly, sums to 1e-9;
* events: every event id an ingest call acknowledged is in ``user_events``
  and counted (not dead-lettered late);
* documents: each accepted document has exactly its chunker's number of chunks
  in Milvus, indices 0..n-1, no duplicates, no gaps, no strangers;
* predictions: one PredictionMade (route other than shadow) per acknowledged
  request id.

``python -m mlmesh.chaos.audit --state-dir DIR --bootstrap HOST:PORT`` prints
the table and exits 1 with the first mismatches listed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from mlmesh.chaos import features_audit
from mlmesh.chaos import reference as ref
from mlmesh.chaos.checks import Check
from mlmesh.chaos.stores import StoreUnavailable, expected_chunk_counts, milvus_chunks
from mlmesh.chaos.topics import Rec, dead_letters, read_topic, ts_ms
from mlmesh.events.v1 import (
    dead_letter_pb2,
    document_pb2,
    prediction_made_pb2,
    user_event_pb2,
)
from mlmesh.ids import is_user_id

log = logging.getLogger(__name__)
_LATE_BY = re.compile(r"by (\d+) ms")
SHOW = 10  # mismatches listed per check


@dataclass
class AuditInput:
    bootstrap: str
    state_dir: Path
    milvus_uri: str = ""
    session_gap_s: int = 1800
    exclude_prefixes: tuple[str, ...] = ("zz-",)
    acked_event_ids: frozenset[str] = frozenset()
    acked_request_ids: frozenset[str] = frozenset()
    collection: str = "doc_chunks"
    acked_doc_ids: frozenset[str] = frozenset()
    now_ms: int = 0  # the features' read time "now" (0: the wall clock at the audit)
    offline_sample: int = features_audit.OFFLINE_SAMPLE


@dataclass
class AuditReport:
    checks: list[Check]
    figures: dict[str, int]

    @property
    def ok(self) -> bool:
        return all(c.ok or c.skipped for c in self.checks) and any(c.ok for c in self.checks)

    @property
    def mismatches(self) -> int:
        return sum(len(c.mismatches) for c in self.checks)

    def table(self) -> str:
        lines = [f"{'check':<34} {'expected':>10} {'observed':>10} {'mismatches':>10}  status",
                 "-" * 78]
        for c in self.checks:
            status = f"SKIPPED ({c.skipped})" if c.skipped else ("ok" if c.ok else "FAIL")
            lines.append(f"{c.name:<34} {c.expected:>10} {c.observed:>10} "
                         f"{len(c.mismatches):>10}  {status}")
        for c in self.checks:
            for m in c.mismatches[:SHOW]:
                lines.append(f"  {c.name}: {m}")
            if len(c.mismatches) > SHOW:
                lines.append(f"  {c.name}: ... and {len(c.mismatches) - SHOW} more")
        lines.append("figures: " + ", ".join(f"{k}={v}" for k, v in self.figures.items()))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "mismatches": self.mismatches, "figures": self.figures,
                "checks": [{**asdict(c), "mismatches": c.mismatches[:50], "ok": c.ok}
                           for c in self.checks]}


@dataclass
class EventLog:
    """The accepted events as the features contract defines them."""

    events: list[ref.Event]
    records: int
    invalid: int
    late: int
    duplicates: int
    ids_in_topic: set[str]


def accepted_events(recs: list[Rec], dlq: list[dead_letter_pb2.DeadLetter],
                    excluded: tuple[str, ...]) -> EventLog:
    late = {(d.source_partition, d.source_offset) for d in dlq
            if d.error_class == "late_event" and d.source_topic.endswith("user_events")}
    first: dict[str, ref.Event] = {}
    invalid = n_late = dups = 0
    ids: set[str] = set()
    for r in sorted(recs, key=lambda r: (r.timestamp, r.partition, r.offset)):
        try:
            e = user_event_pb2.UserEvent.FromString(r.value or b"")
        except Exception:
            invalid += 1
            continue
        ts = ts_ms(e.event_time)
        if not e.event_id or not is_user_id(e.user_id) or ts <= 0 \
                or not math.isfinite(e.amount):
            invalid += 1
            continue
        ids.add(e.event_id)
        if (r.partition, r.offset) in late:
            n_late += 1
            continue
        if e.action not in ref.ACTIONS:  # the job admits only defined actions
            invalid += 1
            continue
        if e.user_id.startswith(excluded):
            continue
        if e.event_id in first:
            dups += 1
            continue
        first[e.event_id] = ref.Event(e.event_id, e.user_id, ts, int(e.action), float(e.amount))
    return EventLog(list(first.values()), len(recs), invalid, n_late, dups, ids)


def audit_features(inp: AuditInput, log_: EventLog, docs: list[ref.Doc],
                   ) -> tuple[list[Check], dict[str, int]]:
    """The tiles against the reference (``features_audit``), and whether
    every acknowledged event was counted (none dead-lettered late)."""
    checks, figures = features_audit.audit_features(
        inp.state_dir, inp.session_gap_s, log_.events, docs, inp.exclude_prefixes,
        inp.now_ms or None, inp.offline_sample)
    counted_ids = {e.event_id for e in log_.events}
    acked = Check("acked events counted (not late)", len(inp.acked_event_ids),
                  len(inp.acked_event_ids & counted_ids))
    for eid in sorted(inp.acked_event_ids - counted_ids):
        acked.add(f"event {eid} acknowledged by ingest, never counted (late or invalid)")
    offline = checks[0]  # events counted once: skipped without an offline store
    if offline.skipped or not inp.acked_event_ids:
        acked.skipped = offline.skipped or "no acknowledged ids given"
    return [*checks, acked], figures


def _documents(recs: list[Rec], dlq: list[dead_letter_pb2.DeadLetter],
               excluded: tuple[str, ...]) -> tuple[dict[str, document_pb2.Document], set[str]]:
    rejected = {d.record_id for d in dlq if d.service == "embedder" and d.record_id}
    docs: dict[str, document_pb2.Document] = {}
    for r in recs:
        try:
            d = document_pb2.Document.FromString(r.value or b"")
        except Exception:
            continue
        if d.doc_id and is_user_id(d.user_id) and not d.user_id.startswith(excluded):
            docs.setdefault(d.doc_id, d)
    return docs, rejected


def audit_chunks(inp: AuditInput, docs: dict[str, document_pb2.Document],
                 rejected: set[str]) -> Check:
    wanted = {k: d for k, d in docs.items() if k not in rejected}
    check = Check("document chunks (Milvus)", 0, 0)
    if not inp.milvus_uri:
        check.skipped = "no Milvus URI"
        return check
    try:
        counts = expected_chunk_counts({k: d.text for k, d in wanted.items()})
        stored = milvus_chunks(inp.milvus_uri, inp.collection)
    except StoreUnavailable as exc:
        check.skipped = str(exc)
        return check
    check.expected = sum(counts.values())
    by_doc: dict[str, list[int]] = defaultdict(list)
    for (doc_id, _version), idx in stored.items():
        by_doc[doc_id].extend(idx)
    check.observed = sum(len(v) for k, v in by_doc.items() if k in docs)
    versions = Counter(v for _, v in stored)
    if len(versions) > 1:
        check.add(f"chunks of several model versions: {dict(versions)}")
    for doc_id, n in sorted(counts.items()):
        idx = sorted(by_doc.get(doc_id, []))
        if idx != list(range(n)):
            dup = [i for i, c in Counter(idx).items() if c > 1]
            check.add(f"doc {doc_id}: chunk indices {idx[:12]} (expected 0..{n - 1}"
                      + (f"; duplicates {dup}" if dup else "") + ")")
    for doc_id in sorted(set(by_doc) & rejected & set(docs)):
        check.add(f"doc {doc_id}: dead-lettered by the embedder yet has chunks")
    return check


def audit_predictions(inp: AuditInput, recs: list[Rec]) -> Check:
    per_id: Counter[str] = Counter()
    for r in recs:
        try:
            p = prediction_made_pb2.PredictionMade.FromString(r.value or b"")
        except Exception:
            continue
        if p.route != "shadow" and not p.error:  # answers; error records are attempts
            per_id[p.request_id] += 1
    check = Check("predictions: one per request id", len(inp.acked_request_ids),
                  len(set(per_id) & inp.acked_request_ids))
    if not inp.acked_request_ids:
        check.skipped = "no acknowledged requests"
        return check
    for rid in sorted(inp.acked_request_ids):
        if per_id[rid] != 1:
            check.add(f"request {rid}: {per_id[rid]} PredictionMade records")
    return check


def run_audit(inp: AuditInput) -> AuditReport:
    ev_recs = read_topic(inp.bootstrap, "user_events")
    ev_dlq = dead_letters(read_topic(inp.bootstrap, "user_events.dlq"))
    elog = accepted_events(ev_recs, ev_dlq, inp.exclude_prefixes)
    doc_recs = read_topic(inp.bootstrap, "documents")
    doc_dlq = dead_letters(read_topic(inp.bootstrap, "documents.dlq"))
    docs, rejected = _documents(doc_recs, doc_dlq, inp.exclude_prefixes)
    late_docs = {(d.source_partition, d.source_offset) for d in doc_dlq
                 if d.error_class == "late_event"}
    ref_docs = []
    for r in doc_recs:
        if (r.partition, r.offset) in late_docs:
            continue
        try:
            d = document_pb2.Document.FromString(r.value or b"")
        except Exception:
            continue
        if d.doc_id in docs and ts_ms(d.created_at) > 0:
            ref_docs.append(ref.Doc(d.doc_id, d.user_id, ts_ms(d.created_at)))
    acked = Check("acked events in user_events", len(inp.acked_event_ids),
                  len(inp.acked_event_ids & elog.ids_in_topic))
    for eid in sorted(inp.acked_event_ids - elog.ids_in_topic):
        acked.add(f"event {eid} acknowledged by ingest but not in user_events")
    if not inp.acked_event_ids:
        acked.skipped = "no acknowledged ids given"
    all_doc_ids = {d.doc_id for d in docs.values()}
    acked_docs = Check("acked documents in documents", len(inp.acked_doc_ids),
                       len(inp.acked_doc_ids & all_doc_ids))
    for did in sorted(inp.acked_doc_ids - all_doc_ids):
        acked_docs.add(f"document {did} acknowledged by ingest but not in documents")
    if not inp.acked_doc_ids:
        acked_docs.skipped = "no acknowledged ids given"
    counted_docs = {d.doc_id for d in ref_docs}
    docs_on_time = Check("acked documents counted (not late)", len(inp.acked_doc_ids),
                         len(inp.acked_doc_ids & counted_docs))
    for did in sorted(inp.acked_doc_ids - counted_docs):
        docs_on_time.add(f"document {did} acknowledged by ingest, never counted "
                         "(dead-lettered late by the features job)")
    if not inp.acked_doc_ids or not (inp.state_dir / "features" / "offline").is_dir():
        docs_on_time.skipped = "no acknowledged ids or no features store"
    feature_checks, feature_figures = audit_features(inp, elog, ref_docs)
    checks = [acked, acked_docs, docs_on_time, *feature_checks,
              audit_chunks(inp, docs, rejected),
              audit_predictions(inp, read_topic(inp.bootstrap, "predictions"))]
    late = [d for d in ev_dlq if d.error_class == "late_event"]
    by_ms = sorted(int(m.group(1)) for d in late if (m := _LATE_BY.search(d.reason)))
    figures = {"late_by_ms_p50": by_ms[len(by_ms) // 2] if by_ms else 0,
               "late_by_ms_max": by_ms[-1] if by_ms else 0,
               "late_first_at_ms": min((ts_ms(d.failed_at) for d in late), default=0),
               "late_last_at_ms": max((ts_ms(d.failed_at) for d in late), default=0),
               "event_records": elog.records, "events_unique_accepted": len(elog.events),
               "event_duplicates_deduped": elog.duplicates, "events_late_dlq": elog.late,
               "events_invalid": elog.invalid, "document_records": len(doc_recs),
               "documents_unique": len(docs), "documents_rejected_by_embedder": len(rejected),
               "user_events_dlq": len(ev_dlq), "documents_dlq": len(doc_dlq),
               **feature_figures}
    return AuditReport(checks, figures)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlmesh.chaos.audit", description=__doc__)
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--milvus-uri", default="")
    p.add_argument("--session-gap-s", type=int, default=1800)
    p.add_argument("--exclude-prefix", action="append", default=None)
    p.add_argument("--now-ms", type=int, default=0,
                   help="the features' read time 'now' (epoch ms; default: the wall clock)")
    p.add_argument("--offline-sample", type=int, default=features_audit.OFFLINE_SAMPLE,
                   help="users whose offline point-in-time values are compared with online")
    p.add_argument("--acked", type=Path, help="JSON {event_ids: [...], request_ids: [...]}")
    p.add_argument("--json", type=Path, help="write the report here")
    args = p.parse_args(argv)
    acked = json.loads(args.acked.read_text()) if args.acked else {}
    report = run_audit(AuditInput(
        args.bootstrap, args.state_dir, args.milvus_uri, args.session_gap_s,
        tuple(args.exclude_prefix or ["zz-"]), frozenset(acked.get("event_ids", [])),
        frozenset(acked.get("request_ids", [])),
        acked_doc_ids=frozenset(acked.get("doc_ids", [])), now_ms=args.now_ms,
        offline_sample=args.offline_sample))
    sys.stdout.write(report.table() + "\n")
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
