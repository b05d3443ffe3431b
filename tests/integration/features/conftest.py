"""One shared run of the features job for the (non-slow) integration tests:
starting the mini-cluster costs 30-60 s on two cores, so the scripted stream
is produced once and every test asserts on a different outcome of it."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helpers below live beside this file

from features_reference import Ev, all_features
from features_scenario import (
    SESSION_GAP_S,
    JobRun,
    Topics,
    as_results,
    build_stream,
    doc_bytes,
    event_bytes,
    feature_updates,
    job,
    producer,
    send,
    send_flush,
    wait_for,
)


@pytest.fixture(scope="package")
def features_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[JobRun]:
    state = tmp_path_factory.mktemp("features-state")
    topics = Topics(f"f{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    stream = build_stream()
    comp = job(state, kafka_bootstrap, topics)
    comp.start(timeout=240)
    try:
        p = producer(kafka_bootstrap)
        send(p, topics, stream.payloads)
        send(p, topics, [("events", "", b"\xff\x01not-a-protobuf", stream.base),
                         ("events", "user-0", event_bytes(Ev("bad-user", "", stream.base, 1, 1.0)),
                          stream.base)])
        # both watermarks provably past the late records' 1-minute slice
        # (base+2min): a window of each topic ending at base+5min or later
        mark = stream.base + 5 * 60_000

        def past_mark() -> bool:
            views = {k[1] for k, _ in as_results(feature_updates(kafka_bootstrap, topics.out))
                     if k[2] >= mark}
            return {"user_activity_5m", "user_documents_1h"} <= views

        wait_for(past_mark, 180, "windows of events and documents past base+5min")
        late = Ev("late-1", "user-0", stream.base + 2 * 60_000, 4, 999.0)
        late_doc = Ev("late-doc-1", "user-0", stream.base + 2 * 60_000, 0, 0.0)
        send(p, topics, [("events", late.user_id, event_bytes(late), late.ts),
                         ("docs", late_doc.user_id, doc_bytes(late_doc), late_doc.ts)])
        time.sleep(1.0)
        send_flush(p, topics, stream)
        expected = all_features(stream.events, stream.docs, SESSION_GAP_S * 1000,
                                stream.final_watermark)

        def complete() -> bool:
            got = {k for k, _ in as_results(feature_updates(kafka_bootstrap, topics.out))}
            return set(expected) <= got

        wait_for(complete, 240, "every expected window result")
        time.sleep(3.0)  # anything extra (wrong) would show up by now
        observed = list(as_results(feature_updates(kafka_bootstrap, topics.out)))
        yield JobRun(kafka_bootstrap, topics, stream, expected, observed, late, late_doc, state)
    finally:
        comp.stop()
