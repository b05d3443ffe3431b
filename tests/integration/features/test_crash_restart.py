"""SIGKILL the job mid-stream, restart it from its latest checkpoint: the final
features are identical to the reference, and no window result appears twice
(read_committed): nothing lost, nothing double counted."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from features_reference import all_features
from features_scenario import (
    SESSION_GAP_S,
    Topics,
    all_results,
    assert_exact,
    build_stream,
    dead_letters,
    first_half_committed,
    job,
    producer,
    send,
    send_flush,
)

from features.job.checkpoints import latest_checkpoint


@pytest.mark.slow
def test_sigkill_and_restart_gives_identical_features(kafka_bootstrap: str,
                                                       tmp_path: Path) -> None:
    topics = Topics(f"c{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    stream = build_stream(seed=11)
    half = len(stream.payloads) // 2
    p = producer(kafka_bootstrap)
    comp = job(tmp_path, kafka_bootstrap, topics)
    comp.start(timeout=240)
    try:
        before = first_half_committed(p, kafka_bootstrap, topics, stream)
        assert latest_checkpoint(comp.checkpoint_dir) is not None
        comp.kill()
        assert not comp.status().running
        send(p, topics, stream.payloads[half:])  # arrives while the job is down
        comp = job(tmp_path, kafka_bootstrap, topics)
        comp.start(timeout=240)
        assert comp.restored_from is not None
        send_flush(p, topics, stream)
        expected = all_features(stream.events, stream.docs, SESSION_GAP_S * 1000,
                                stream.final_watermark)
        observed = all_results(kafka_bootstrap, topics, expected, "all results after restart")
        dead = dead_letters(kafka_bootstrap, topics.events + ".dlq")
    finally:
        comp.stop()
    assert before > 0
    assert_exact(observed, expected, dead)
