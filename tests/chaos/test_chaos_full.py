"""The full chaos run: >= 100k events and 5k documents, every service SIGKILLed
three times at random moments, the broker once, Triton and Milvus paused twice
each, client-side resends, replays of old slices; exact audit afterwards.
Seeded: the seed is logged and ``MLMESH_CHAOS_SEED`` replays a schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmesh.chaos.results import failure_summary, publish
from mlmesh.chaos.run import RunConfig, chaos_run
from mlmesh.chaos.stackenv import free_base


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_chaos_full_exactly_once_no_loss(tmp_path: Path) -> None:
    cfg = RunConfig(events=100_000, docs=5_000, users=1_000, stream_s=360.0,
                    kills_per_service=3, pauses_per_store=2, replays=2, broker_kills=1,
                    port_base=free_base(29600, 29700).base, state_dir=tmp_path / "state",
                    drain_timeout_s=900.0)
    report = chaos_run(cfg)
    publish(report, "chaos")
    assert report.audit.figures["event_records"] >= 100_000  # audited (with resends)
    summary = failure_summary(report)
    audit_ok, mismatches = report.audit.ok, report.audit.mismatches
    faults_ok = all(f["ok"] for f in report.faults)
    assert mismatches == 0 and audit_ok, summary
    assert faults_ok, summary
    drained = bool(report.drain["drained"])
    assert drained, summary
    assert not report.leftovers, report.leftovers
