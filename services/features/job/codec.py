"""The features job's dead letters, free of PyFlink (unit-testable in .venv).

Good records never reach Python: the JVM functions in services/features/jvm
decode UserEvent / Document and encode FeatureUpdate. What Python builds is
the DeadLetter of each record they reject and of each late event.
"""

from __future__ import annotations

from mlmesh.kafka.dlq import dead_letter

SERVICE = "features-job"


def dead_letter_bytes(*, original: bytes | None, key: bytes | None, topic: str,
                      partition: int, offset: int, error_class: str, reason: str,
                      record_id: str = "") -> bytes:
    return dead_letter(original=original, key=key, source_topic=topic, partition=partition,
                       offset=offset, error_class=error_class, reason=reason,
                       service=SERVICE, record_id=record_id).SerializeToString()


def late_reason(ts_ms: int, watermark_ms: int, retention_ms: int = 0) -> str:
    why = (f"older than the tiles' retention of {retention_ms} ms: no read from now on "
           f"can see its tile" if retention_ms else
           "its 1-minute window slice had already fired")
    return (f"late_event: event time {ts_ms} is behind the watermark {watermark_ms} "
            f"by {watermark_ms - ts_ms} ms; {why}")
