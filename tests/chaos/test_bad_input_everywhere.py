"""Bad input at every door of the running mesh: ingest gRPC and HTTP, raw
records on each topic (user_events, documents, feature_updates, labels,
predictions) and the inference API, while a good workload flows. Each bad
input ends in a clear error or a dead letter with its reason; no component
crashes or stalls; the good data around it is audited exactly."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mlmesh.chaos import corpus
from mlmesh.chaos.audit import AuditInput, run_audit
from mlmesh.chaos.drain import wait_drained
from mlmesh.chaos.fuzz import (
    InferenceDoor,
    IngestDoor,
    Outcomes,
    check_topic,
    inference_cases,
    produce_raw,
)
from mlmesh.chaos.load import IngestSender, flush_marks
from mlmesh.chaos.procs import ProcessControl
from mlmesh.chaos.results import RESULTS_DIR, write_json
from mlmesh.chaos.run import RunConfig, workload
from mlmesh.chaos.stackenv import ChaosStack, free_base
from mlmesh.events.v1 import user_event_pb2

# Which registered consumer must dead-letter an undecodable record of a topic
# (DeadLetter.service). The monitor observes labels/predictions but writes no
# dead letters (it counts them): those topics only check it survives.
DLQ_WRITERS = {"user_events": ["features-job"], "documents": ["features-job", "embedder"],
               "feature_updates": ["feature-writer"], "labels": [], "predictions": []}
TOPIC_CASES = {"user_events": corpus.event_cases, "documents": corpus.document_cases,
               "feature_updates": lambda _s=0: corpus.feature_update_cases(),
               "labels": corpus.label_cases,
               "predictions": lambda _s=0: corpus.prediction_cases()}


def _undecodable(topic: str, value: bytes) -> bool:
    from mlmesh.events.v1 import (
        document_pb2,
        feature_update_pb2,
        label_pb2,
        prediction_made_pb2,
    )

    cls = {"user_events": user_event_pb2.UserEvent, "documents": document_pb2.Document,
           "feature_updates": feature_update_pb2.FeatureUpdate, "labels": label_pb2.Label,
           "predictions": prediction_made_pb2.PredictionMade}[topic]
    try:
        cls.FromString(value)
    except Exception:
        return True
    return not value


@pytest.mark.timeout(1500)
def test_bad_input_at_every_door(tmp_path: Path) -> None:
    stack = ChaosStack(tmp_path / "state", free_base(29600, 29700))
    out = Outcomes()
    try:
        stack.up()
        pc = ProcessControl(stack.run_dir)
        pids = {n: pc.pid(n) for n in stack.names()}
        cfg = RunConfig(events=3000, docs=150, users=100)
        records = list(workload(cfg, seed=99).records())
        # The good workload first (event times 26 h back), then the bad input
        # (event times "now"): mixed in one partition, the later "now" records
        # would move its watermark past the old ones and make them late.
        sender = IngestSender(f"127.0.0.1:{stack.ports.ingest_grpc}", seed=99, resend_p=0.0)
        sender.send(records, 30.0)
        door = IngestDoor(f"127.0.0.1:{stack.ports.ingest_grpc}",
                          f"127.0.0.1:{stack.ports.ingest_http}")
        for kind, cases in (("user_event", corpus.event_cases(7)),
                            ("document", corpus.document_cases(7)),
                            ("label", corpus.label_cases(7))):
            for case in cases:
                door.grpc_item(kind, case, out)
        rng = random.Random(3)
        for i in range(150):
            door.grpc_item("user_event", (f"random-{i}", rng.randbytes(rng.randrange(1, 400))),
                           out)
        for name, body in {"not-json": b"{", "deep": b"[" * 5000 + b"]" * 5000,
                           "utf8": b'["\xff"]', "types": b'[{"event_id": 1}]'}.items():
            door.http("/v1/events", body, name, out)
        door.close()
        placed = {t: produce_raw(stack.bootstrap, t, make(7)) for t, make in TOPIC_CASES.items()}
        if stack.has("inference"):
            idoor = InferenceDoor(f"127.0.0.1:{stack.ports.inference_grpc}")
            for case in inference_cases():
                idoor.predict(case, out)
            idoor.close()
        flush_marks(stack.bootstrap)
        drain = wait_drained(stack.bootstrap, 600.0)
        for topic, where in placed.items():
            writers = [w for w in DLQ_WRITERS[topic] if stack.has(w)]
            cases = dict(TOPIC_CASES[topic](7))
            must = {pos: n for pos, n in where.items() if _undecodable(topic, cases[n])}
            check_topic(stack.bootstrap, topic, must, writers, out)
        died = [n for n, pid in pids.items() if not pc.alive(n) or pc.pid(n) != pid]
        audit = run_audit(AuditInput(
            stack.bootstrap, stack.state_dir,
            stack.env.get("MLMESH_MILVUS_URI", "") if stack.has("embedder") else "",
            exclude_prefixes=("zz-", "fuzz-"),
            acked_event_ids=frozenset(sender.stats.accepted_ids.get("user_event", set()))))
    finally:
        leftovers = stack.down()
    write_json(RESULTS_DIR / "chaos-bad-input.json",
               {"outcomes": out.to_dict(), "drain": drain, "died": died,
                "missing_components": stack.missing, "audit": audit.to_dict()})
    assert not out.defects, out.defects
    assert not died, f"crashed on bad input: {died}"
    assert drain["drained"], f"a consumer stalled: {drain}"
    audit_ok = audit.ok
    assert audit_ok, audit.table()
    assert not leftovers, leftovers
    assert out.tried >= 150
