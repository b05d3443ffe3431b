"""Every bad-input class gets its DLQ error class and a reason (no servers)."""

from __future__ import annotations

import pytest

from embedder.validation import Invalid, parse_document
from mlmesh.events.v1 import document_pb2, user_event_pb2

LIMIT = 1024


def _doc(**kw: str) -> bytes:
    base = {"doc_id": "d1", "user_id": "u1", "text": "hello", "source": "s"}
    base.update(kw)
    return document_pb2.Document(**base).SerializeToString()


def _bad_utf8() -> bytes:
    raw = _doc(text="hello wide world")
    return raw.replace(b"wide", b"w\xffde")


CASES = [
    (_doc(text=""), "validation", "text: empty"),
    (_doc(text="  \n\t "), "validation", "text: empty"),
    (_doc(text="x" * (LIMIT + 1)), "oversize", "exceeds"),
    (_doc(text="é" * (LIMIT // 2 + 1)), "oversize", "bytes"),  # counted in UTF-8 bytes
    (_bad_utf8(), "encoding", "text (byte"),
    (b"\xff\xfe\x00garbage", "decode", "not a valid"),
    (b"", "decode", "empty payload"),
    (b'{"doc_id": "d1", "user_id": "u1", "text": "json"}', "decode", ""),
    (user_event_pb2.UserEvent(event_id="e1", user_id="u1").SerializeToString(),
     "", ""),  # another schema: rejected one way or another (see below)
    (_doc(doc_id=""), "validation", "doc_id: required"),
    (_doc(user_id=""), "validation", "user_id: required"),
    (_doc(user_id="bad user!"), "validation", "user_id: must match"),
    (_doc(doc_id="a/b"), "validation", "doc_id: must match"),
]


@pytest.mark.parametrize(("payload", "error_class", "reason"), CASES)
def test_rejections(payload: bytes, error_class: str, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_document(payload, LIMIT)
    if error_class:
        assert info.value.error_class == error_class
    assert reason in info.value.reason


def test_other_schema_is_not_a_document() -> None:
    payload = user_event_pb2.UserEvent(event_id="e1", user_id="u1", amount=3.5,
                                       session_id="s").SerializeToString()
    with pytest.raises(Invalid) as info:
        parse_document(payload, LIMIT)
    assert info.value.error_class == "decode"
    assert "unknown schema" in info.value.reason


def test_valid_document_passes_and_keeps_fields() -> None:
    doc = parse_document(_doc(text="é" * (LIMIT // 2)), LIMIT)
    assert doc.doc_id == "d1" and doc.user_id == "u1" and len(doc.text) == LIMIT // 2
