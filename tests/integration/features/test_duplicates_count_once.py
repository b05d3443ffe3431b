"""The same event_id (or doc_id) arriving twice counts once."""

from __future__ import annotations

from features_scenario import JobRun


def test_duplicated_events_count_once(features_run: JobRun) -> None:
    stream = features_run.stream
    assert stream.duplicates
    got = dict(features_run.observed)
    by_id = {e.event_id: e for e in stream.events}
    for event_id in stream.duplicates:
        e = by_id[event_id]
        end = (e.ts // 60_000 + 1) * 60_000  # first 5-minute window holding it
        user_events = [x for x in stream.events if x.user_id == e.user_id
                       and end - 300_000 <= x.ts < end]
        assert got[(e.user_id, "user_activity_5m", end)]["event_count_5m"] == len(user_events)


def test_duplicated_document_counts_once(features_run: JobRun) -> None:
    doc = features_run.stream.docs[0]
    end = (doc.ts // 300_000 + 1) * 300_000
    n = len({d.event_id for d in features_run.stream.docs
             if d.user_id == doc.user_id and end - 3_600_000 <= d.ts < end})
    assert dict(features_run.observed)[(doc.user_id, "user_documents_1h", end)] == {
        "doc_count_1h": float(n)}
