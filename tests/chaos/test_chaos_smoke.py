"""Quick chaos: 20k events / 1k documents through the real mesh while every
registered service is SIGKILLed once, the broker once, Triton and Milvus are
paused, batches are resent and old slices replayed; then the audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmesh.chaos.results import failure_summary, publish
from mlmesh.chaos.run import RunConfig, chaos_run
from mlmesh.chaos.stackenv import free_base


@pytest.mark.timeout(1500)
def test_chaos_smoke_exactly_once_no_loss(tmp_path: Path) -> None:
    cfg = RunConfig(events=20_000, docs=1_000, users=300, stream_s=90.0,
                    kills_per_service=1, pauses_per_store=1, replays=2, broker_kills=1,
                    port_base=free_base(29600, 29700).base, state_dir=tmp_path / "state",
                    drain_timeout_s=480.0)
    report = chaos_run(cfg)
    publish(report, "chaos-smoke")
    summary = failure_summary(report)
    audit_ok, mismatches = report.audit.ok, report.audit.mismatches
    faults_ok = all(f["ok"] for f in report.faults)
    assert mismatches == 0 and audit_ok, summary
    assert faults_ok, summary
    assert len(report.faults) >= 3, "too few faults were injected to mean anything"
    drained = bool(report.drain["drained"])
    assert drained, summary
    assert not report.leftovers, report.leftovers
