"""A checkpoint's Kafka offsets belong to the topics it was taken on: the job
records the Kafka identity (cluster id, source topic ids) beside its
checkpoints and refuses to restore one recorded against other ids (a reset
broker, a topic created again), saying what it found and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from features_scenario import Topics

from features.job.checkpoints import (
    IDENTITY_FILE,
    KafkaIdentityMismatch,
    guard_restore,
    resolve_restore,
)
from mlmesh.kafka.topics import delete_topics
from mlmesh.localstack.paths import repo_root
from mlmesh.localstack.service import source_pythonpath


def fake_checkpoint(root: Path) -> Path:
    chk = root / uuid.uuid4().hex / "chk-3"
    chk.mkdir(parents=True)
    (chk / "_metadata").write_bytes(b"metadata")
    return chk


def recreate(bootstrap: str, topics: Topics) -> None:
    delete_topics(bootstrap, [topics.events, topics.docs])
    deadline = time.monotonic() + 60
    while True:  # deletion is asynchronous: create again once it is done
        try:
            topics.create(bootstrap)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_restore_is_refused_after_the_topics_are_created_again(kafka_bootstrap: str,
                                                               tmp_path: Path) -> None:
    topics = Topics(f"i{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    sources = [topics.events, topics.docs]
    ckpt = tmp_path / "checkpoints"
    assert guard_restore(kafka_bootstrap, sources, ckpt, "") == "fresh start"
    recorded = json.loads((ckpt / IDENTITY_FILE).read_text())
    assert recorded["cluster_id"] and recorded[f"topic:{topics.events}"]

    chk = fake_checkpoint(ckpt)
    assert resolve_restore("latest", str(ckpt)) == str(chk)
    assert "matches" in guard_restore(kafka_bootstrap, sources, ckpt, str(chk))

    recreate(kafka_bootstrap, topics)  # same names, new topics: old offsets mean nothing
    with pytest.raises(KafkaIdentityMismatch) as info:
        guard_restore(kafka_bootstrap, sources, ckpt, str(chk))
    said = str(info.value)
    assert f"topic:{topics.events}" in said and "mlmesh reset" in said
    assert "MLMESH_FEATURES_IGNORE_KAFKA_IDENTITY=1" in said

    # asked to keep it: restored, and the new ids recorded for what follows
    assert "restoring anyway" in guard_restore(kafka_bootstrap, sources, ckpt, str(chk),
                                               ignore=True)
    assert "matches" in guard_restore(kafka_bootstrap, sources, ckpt, str(chk))


def test_the_job_refuses_a_checkpoint_of_another_cluster(kafka_bootstrap: str,
                                                         tmp_path: Path) -> None:
    python = repo_root() / ".venv-flink" / "bin" / "python"
    if not python.exists():
        pytest.skip(".venv-flink not built (make setup)")
    topics = Topics(f"j{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    ckpt = tmp_path / "checkpoints"
    fake_checkpoint(ckpt)
    (ckpt / IDENTITY_FILE).write_text(json.dumps({"cluster_id": "another-cluster"}))
    env = dict(os.environ, PYTHONPATH=source_pythonpath())
    proc = subprocess.run(
        [str(python), "-m", "features.job", "--bootstrap", kafka_bootstrap,
         "--events-topic", topics.events, "--documents-topic", topics.docs,
         "--output-topic", topics.out, "--checkpoint-dir", str(ckpt), "--restore", "latest"],
        capture_output=True, text=True, timeout=180, env=env, cwd=repo_root())
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "refusing to restore" in proc.stderr and "another-cluster" in proc.stderr
