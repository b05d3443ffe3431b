"""SIGKILL a real `python -m embedder` mid-stream, restart it: every chunk is in
Milvus exactly once (by chunk id and per document), duplicates and re-sends
included, and a document re-sent shorter loses its stale chunks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from embedder.chunking import Chunker
from embedder.pii import redact
from embedder.store import chunk_id
from mlmesh.embedding import MiniLMTokenizer
from mlmesh.embedding.client import DEFAULT_VERSION

SENTENCE = ("The customer reported that the delivery was late and the package was open, "
            "asking for a refund of order {i} and a call back on +1 415-555-{p:04d}. ")


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "embedder"], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def test_sigkill_mid_batch_then_restart_exactly_once(emb_env: Any, tmp_path: Path) -> None:
    docs = []
    for i in range(150):
        repeat = 14 if i % 10 == 0 else 1  # every 10th document spans several chunks
        docs.append(emb_env.doc(f"crash-{i}", f"u{i % 9}",
                                "".join(SENTENCE.format(i=i + k, p=k) for k in range(repeat))))
    long_then_short = emb_env.doc("crash-resent", "u1", SENTENCE.format(i=1, p=1) * 14)
    short = emb_env.doc("crash-resent", "u1", "now a short note")
    duplicates = docs[:30]  # the same documents written twice
    emb_env.send([long_then_short, *docs, *duplicates, short])

    chunker = Chunker(MiniLMTokenizer(), 200, 32)
    final = {d.doc_id: d for d in [*docs, short]}
    expected = {chunk_id(d.doc_id, c.index, DEFAULT_VERSION)
                for d in final.values() for c in chunker.split(redact(d.text).text)}
    per_doc = {d.doc_id: len(chunker.split(redact(d.text).text)) for d in final.values()}
    assert max(per_doc.values()) >= 3 and per_doc["crash-resent"] == 1

    env = emb_env.env_vars(MLMESH_EMBEDDER_CONSUME_BATCH="24", MLMESH_LOG_LEVEL="INFO")
    store = emb_env.store()
    log = tmp_path / "embedder.log"
    proc = _spawn(env, log)
    try:
        emb_env.wait_for(lambda: emb_env.count(store) >= len(expected) // 4, 120,
                         "first quarter written")
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown: batch in flight, offsets not committed
        proc.wait(10)
        at_kill = emb_env.count(store)
        assert 0 < at_kill < len(expected), "killed too late to test anything"

        proc = _spawn(env, log)
        emb_env.wait_for(lambda: emb_env.count(store, 'doc_id == "crash-resent"') == 1
                         and emb_env.count(store) == len(expected), 240, "all chunks after restart")
        time.sleep(2)  # anything still replaying would show up as a change now
        rows = store.query("", ["chunk_id", "doc_id"])
        ids = [r["chunk_id"] for r in rows]
        assert len(ids) == len(set(ids)) == store.count() == len(expected)
        assert set(ids) == expected
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["doc_id"]] = counts.get(r["doc_id"], 0) + 1
        assert counts == per_doc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                assert proc.wait(30) == 0, log.read_text()[-3000:]
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
