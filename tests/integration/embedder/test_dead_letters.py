"""Each bad-input class lands in documents.dlq with its error class and reason;
good documents in the same batches are still written; nothing is skipped."""

from __future__ import annotations

from typing import Any

from mlmesh.events.v1 import dead_letter_pb2, document_pb2, user_event_pb2
from mlmesh.testing.kafka import consume_all


def _raw(**kw: str) -> bytes:
    return document_pb2.Document(**kw).SerializeToString()


def test_bad_inputs_go_to_dlq_with_reasons(emb_env: Any) -> None:
    limit = 2048
    bad_utf8 = _raw(doc_id="enc", user_id="u1", text="caf\u00e9 ok").replace(b"\xc3\xa9", b"\xe9")
    bad: dict[str, tuple[bytes, str, str]] = {
        # key -> (payload, error_class, reason fragment)
        "empty": (_raw(doc_id="empty", user_id="u1", text=""), "validation", "text: empty"),
        "blank": (_raw(doc_id="blank", user_id="u1", text=" \n "), "validation", "text: empty"),
        "oversize": (_raw(doc_id="big", user_id="u1", text="word " * 600), "oversize",
                     "exceeds 2048"),
        "encoding": (bad_utf8, "encoding", "text (byte"),
        "garbage": (b"\xff\x00\x01not a proto at all", "decode", "not a valid"),
        "schema": (user_event_pb2.UserEvent(event_id="e1", user_id="u1", amount=9.5,
                                            session_id="s1").SerializeToString(),
                   "decode", "unknown schema"),
        "no_doc_id": (_raw(user_id="u1", text="hello"), "validation", "doc_id: required"),
        "no_user_id": (_raw(doc_id="nouser", text="hello"), "validation", "user_id: required"),
    }
    good = [emb_env.doc(f"good-{i}", "u1", f"a perfectly fine note number {i}") for i in range(4)]
    records: list[Any] = [good[0]]
    records += [(key, payload) for key, (payload, _, _) in bad.items()]
    records += good[1:]
    emb_env.send(records)
    svc = emb_env.start(max_text_bytes=limit)
    store = emb_env.store()
    emb_env.wait_for(lambda: emb_env.count(store) == len(good), 90, "good docs written")
    emb_env.wait_for(lambda: svc.loop.stats.dead_lettered == len(bad), 30, "dead letters")

    letters = {}
    for key, value in consume_all(emb_env.bootstrap, emb_env.dlq_topic):
        dl = dead_letter_pb2.DeadLetter.FromString(value)
        letters[key.decode()] = dl
    assert set(letters) == set(bad)
    for key, (payload, error_class, reason) in bad.items():
        dl = letters[key]
        assert dl.error_class == error_class, (key, dl.error_class, dl.reason)
        assert reason in dl.reason, (key, dl.reason)
        assert dl.original == payload  # untouched bytes, for replay after a fix
        assert dl.source_topic == emb_env.topic and dl.service == "embedder"
        assert dl.source_offset >= 0
    assert sorted(r["doc_id"] for r in store.query("", ["doc_id"])) == sorted(
        d.doc_id for d in good)
