"""Which raw records the audit counts: first on-time copy of each event id;
copies dead-lettered as late by the features job, invalid payloads and
excluded (flush) users are not counted."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.chaos.audit import accepted_events
from mlmesh.chaos.topics import Rec
from mlmesh.events.v1 import dead_letter_pb2, user_event_pb2


def _ev(eid: str, user: str = "u1", ms: int = 1_700_000_000_000) -> bytes:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return user_event_pb2.UserEvent(event_id=eid, user_id=user, event_time=ts,
                                    action=user_event_pb2.ACTION_VIEW).SerializeToString()


def test_duplicates_late_copies_invalid_and_excluded() -> None:
    recs = [Rec(0, 0, b"u1", _ev("a"), 1), Rec(0, 1, b"u1", _ev("a"), 2),  # resent
            Rec(1, 0, b"u1", _ev("b"), 3),  # its only copy was late
            Rec(1, 1, b"u1", _ev("c"), 4), Rec(1, 2, b"u1", _ev("c"), 5),  # late replay
            Rec(2, 0, b"x", b"\xff\xff", 6),  # undecodable
            Rec(2, 1, b"x", _ev("d", user="bad user!"), 7),  # invalid user id
            Rec(2, 2, b"zz", _ev("f", user="zz-flush"), 8)]  # excluded
    late = [dead_letter_pb2.DeadLetter(source_topic="user_events", source_partition=1,
                                       source_offset=off, error_class="late_event")
            for off in (0, 2)]
    log = accepted_events(recs, late, ("zz-",))
    assert sorted(e.event_id for e in log.events) == ["a", "c"]
    assert log.duplicates == 1 and log.late == 2 and log.invalid == 2
    assert log.ids_in_topic == {"a", "b", "c", "f"}


def test_undefined_actions_are_invalid_as_the_job_rejects_them() -> None:
    zero = user_event_pb2.UserEvent.FromString(_ev("z"))
    zero.action = user_event_pb2.ACTION_UNSPECIFIED
    log = accepted_events([Rec(0, 0, b"u1", zero.SerializeToString(), 1),
                           Rec(0, 1, b"u1", _ev("v"), 2)], [], ())
    assert [e.event_id for e in log.events] == ["v"] and log.invalid == 1
    assert log.ids_in_topic == {"z", "v"}  # it did reach the topic
