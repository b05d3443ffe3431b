"""Late events and bad payloads land in the DLQ with the reason, never counted."""

from __future__ import annotations

import math

from features_scenario import JobRun, dead_letters


def test_late_event_is_dead_lettered_with_reason_and_not_counted(features_run: JobRun) -> None:
    dlq = dead_letters(features_run.bootstrap, features_run.topics.events + ".dlq")
    late = [d for d in dlq if d.error_class == "late_event"]
    assert [d.record_id for d in late] == ["late-1"]
    assert "behind the watermark" in late[0].reason
    assert late[0].source_topic == features_run.topics.events
    assert late[0].source_offset >= 0 and late[0].original
    # counted nowhere: user-0's windows holding its time equal the reference
    got = dict(features_run.observed)
    late_ts = features_run.late_event.ts
    covering = [k for k in features_run.expected if k[0] == "user-0"
                and k[1] == "user_activity_5m" and k[2] - 300_000 <= late_ts < k[2]]
    assert covering
    for k in covering:
        for name, value in features_run.expected[k].items():
            assert math.isclose(got[k][name], value, rel_tol=1e-9, abs_tol=1e-9), (k, name)


def test_late_document_is_dead_lettered(features_run: JobRun) -> None:
    dlq = dead_letters(features_run.bootstrap, features_run.topics.docs + ".dlq")
    got = {(d.error_class, d.record_id) for d in dlq}
    # the scenario re-sends docs[0] after all documents: a duplicate that is also late
    assert got - {("late_event", features_run.stream.docs[0].event_id)} == {
        ("late_event", "late-doc-1")}


def test_bad_payloads_are_dead_lettered(features_run: JobRun) -> None:
    dlq = dead_letters(features_run.bootstrap, features_run.topics.events + ".dlq")
    bad = sorted((d.error_class, d.reason) for d in dlq if d.error_class != "late_event")
    assert [c for c, _ in bad] == ["decode", "validation"]
    assert "user_id" in bad[1][1]
    assert all(d.service == "features-job" for d in dlq)
