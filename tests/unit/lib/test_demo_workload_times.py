"""The demo stamps each record with (about) the time it is sent at, events and
documents alike, so its event -> served and doc -> searchable figures are not
offset by the stream's span."""

from __future__ import annotations

import time

from mlmesh.demo import DemoConfig, workload


def test_records_are_stamped_over_the_coming_stream() -> None:
    cfg = DemoConfig(seconds=20.0, rate=100.0, users=20, doc_ratio=0.2, seed=3)
    before = time.time() * 1000
    recs = workload(cfg)
    after = time.time() * 1000
    events = [r.msg.event_time.ToMilliseconds()  # type: ignore[union-attr]
              for r in recs if r.kind == "user_event"]
    docs = [r.msg.created_at.ToMilliseconds()  # type: ignore[union-attr]
            for r in recs if r.kind == "document"]
    assert len(events) == 2000 and docs
    span_ms = cfg.seconds * 1000
    # the i-th of n events is due at start + i / rate: its stamp is that time
    assert before - 1 <= events[0] <= after
    assert events == sorted(events)
    assert events[-1] - events[0] >= span_ms * 0.99
    assert events[-1] <= after + span_ms
    assert all(before - 1 <= d <= after + span_ms for d in docs)
