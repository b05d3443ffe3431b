"""Decode and validate one ``documents`` record; every rejection has a class
and a reason that go to ``documents.dlq``.

Classes: ``decode`` (not a Document: garbage, another schema), ``encoding``
(a string field is not valid UTF-8), ``validation`` (missing/invalid ids, empty
text), ``oversize`` (text above the limit).
"""

from __future__ import annotations

from google.protobuf import unknown_fields

from mlmesh.events.v1 import document_pb2
from mlmesh.ids import RECORD_ID_RULE, USER_ID_RULE, is_record_id, is_user_id
from mlmesh.kafka.serde import SerdeError, decode
from mlmesh.wire import WireError, fields

_STRING_FIELDS = {1: "doc_id", 2: "user_id", 3: "text", 4: "source"}


class Invalid(ValueError):
    def __init__(self, error_class: str, reason: str, record_id: str = "") -> None:
        super().__init__(reason)
        self.error_class = error_class
        self.reason = reason
        self.record_id = record_id


def parse_document(data: bytes | None, max_text_bytes: int) -> document_pb2.Document:
    """A valid Document or :class:`Invalid`."""
    if data is not None and len(data) > max_text_bytes + 4096:
        raise Invalid("oversize", f"record of {len(data)} bytes exceeds the text limit "
                                  f"{max_text_bytes} plus envelope")
    try:
        doc = decode(document_pb2.Document, data)
    except SerdeError as exc:
        bad = _invalid_utf8_field(data or b"")
        if bad is not None:
            raise Invalid("encoding", f"{bad}: invalid UTF-8") from exc
        raise Invalid(exc.error_class, exc.reason) from exc
    ufs = unknown_fields.UnknownFieldSet(doc)
    unknown = sorted({ufs[i].field_number for i in range(len(ufs))})
    try:
        _check(doc, max_text_bytes)
    except Invalid as exc:
        if unknown:  # fields a Document does not have, and not a valid Document either
            raise Invalid("decode", "unknown schema: not a mlmesh.events.v1.Document "
                                    f"(unknown fields {unknown[:8]}; {exc.reason})",
                          exc.record_id) from exc
        raise
    return doc


def _check(doc: document_pb2.Document, max_text_bytes: int) -> None:
    rid = doc.doc_id[:128]
    if not doc.doc_id:
        raise Invalid("validation", "doc_id: required")
    if not is_record_id(doc.doc_id):
        raise Invalid("validation", f"doc_id: {RECORD_ID_RULE}", rid)
    if not doc.user_id:
        raise Invalid("validation", "user_id: required", rid)
    if not is_user_id(doc.user_id):
        raise Invalid("validation", f"user_id: {USER_ID_RULE}", rid)
    size = len(doc.text.encode("utf-8"))
    if size > max_text_bytes:
        raise Invalid("oversize", f"text: {size} bytes exceeds {max_text_bytes}", rid)
    if not doc.text.strip():
        raise Invalid("validation", "text: empty", rid)


def _invalid_utf8_field(data: bytes) -> str | None:
    """The name of the first top-level string field holding invalid UTF-8, if the
    payload is otherwise well-formed wire format (why a decode failed)."""
    try:
        for number, wire_type, value in fields(data, strict=False):
            if wire_type == 2 and number in _STRING_FIELDS and isinstance(value, bytes):
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return f"{_STRING_FIELDS[number]} (byte {exc.start})"
    except WireError:
        return None
    return None
    return None
