"""``--bounded``: the job reads the topics up to their offsets at start, fires
every window at the end of the input and exits 0 by itself; what it wrote
equals the plain-Python reference with every window closed (a backfill)."""

from __future__ import annotations

import math
import os
import subprocess
import uuid
from pathlib import Path

from features_reference import all_features
from features_scenario import (
    SESSION_GAP_S,
    Topics,
    as_results,
    build_stream,
    feature_updates,
    job,
    producer,
    send,
)

from mlmesh.localstack.paths import repo_root
from mlmesh.localstack.service import source_pythonpath

ALL_CLOSED = 2**62  # Flink's final watermark of a bounded input: every window fires


def test_bounded_job_finishes_with_every_window(kafka_bootstrap: str, tmp_path: Path) -> None:
    topics = Topics(f"b{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    stream = build_stream(seed=11, users=3, per_user=14)
    send(producer(kafka_bootstrap), topics, stream.payloads)
    comp = job(tmp_path, kafka_bootstrap, topics)
    env = {**os.environ, **comp.env,
           "PYTHONPATH": source_pythonpath(os.environ.get("PYTHONPATH"))}
    done = subprocess.run([*comp.command(), "--bounded"], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-3000:]
    got = dict(as_results(feature_updates(kafka_bootstrap, topics.out)))
    want = all_features(stream.events, stream.docs, SESSION_GAP_S * 1000, ALL_CLOSED)
    assert set(got) == set(want), (
        f"missing {sorted(set(want) - set(got))[:5]} extra {sorted(set(got) - set(want))[:5]}")
    for key, values in want.items():
        assert set(got[key]) == set(values), key
        for name, value in values.items():
            assert math.isclose(got[key][name], value, rel_tol=1e-9, abs_tol=1e-9), (key, name)
