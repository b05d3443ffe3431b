"""The features job's Kafka connector through a SASL_SSL listener (SCRAM-SHA-512,
a local CA) with the mesh's typed security variables (#28): a bounded run reads
the events and writes the features the plain-Python reference computes, and
the password shows nowhere in its output."""

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
from mlmesh.testing.secure_kafka import SecureKafka

ALL_CLOSED = 2**62


def test_bounded_job_over_sasl_ssl(secure_kafka: SecureKafka, tmp_path: Path) -> None:
    sk = secure_kafka
    topics = Topics(f"s{uuid.uuid4().hex[:8]}")
    topics.create(sk.plain_bootstrap)  # set-up over the plain listener
    stream = build_stream(seed=5, users=2, per_user=10)
    send(producer(sk.plain_bootstrap), topics, stream.payloads)
    comp = job(tmp_path, sk.bootstrap, topics)
    env = {**os.environ, **comp.env, **sk.env(),
           "PYTHONPATH": source_pythonpath(os.environ.get("PYTHONPATH"))}
    done = subprocess.run([*comp.command(), "--bounded"], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sk.password not in done.stdout + done.stderr
    got = dict(as_results(feature_updates(sk.plain_bootstrap, topics.out)))
    want = all_features(stream.events, stream.docs, SESSION_GAP_S * 1000, ALL_CLOSED)
    assert set(got) == set(want)
    for key, values in want.items():
        for name, value in values.items():
            assert math.isclose(got[key][name], value, rel_tol=1e-9, abs_tol=1e-9), (key, name)
