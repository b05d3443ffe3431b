from __future__ import annotations

from pathlib import Path

from inference.rollback import apply_alert, breach_version
from inference.router import PolicyStore, RoutingPolicy
from mlmesh.events.v1 import alert_pb2


def _alert(version: str, metric: str = "error_rate", resolved: bool = False,
           severity: int = alert_pb2.SEVERITY_CRITICAL, raised_ms: int = 0) -> alert_pb2.Alert:
    a = alert_pb2.Alert(rule=f"{metric}_breach", metric=metric, value=0.05, threshold=0.01,
                        labels={"model_version": version}, resolved=resolved, severity=severity)
    if raised_ms:
        a.raised_at.FromMilliseconds(raised_ms)
    return a


def test_breach_targets_only_served_versions() -> None:
    p = RoutingPolicy(primary="1", canary="2", canary_share=0.1, shadow="3", updated_at_ms=1000)
    assert breach_version(_alert("2"), p) == "2"
    assert breach_version(_alert("3", "latency_p95"), p) == "3"
    assert breach_version(_alert("1"), p) is None  # primary with nothing to fall back to
    assert breach_version(_alert("9"), p) is None
    assert breach_version(_alert("2", resolved=True), p) is None
    assert breach_version(_alert("2", severity=alert_pb2.SEVERITY_INFO), p) is None
    assert breach_version(_alert("2", metric="consumer_lag"), p) is None
    assert breach_version(_alert("2", raised_ms=500), p) is None  # older than the policy


def test_apply_alert_rewrites_the_policy(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "routing.yaml")
    store.update(lambda p: p.set(primary="1", canary="2", canary_share=0.5))
    new = apply_alert(store, _alert("2", "quality"))
    assert new is not None and new.canary == "" and new.canary_share == 0.0
    loaded = store.load()
    assert loaded is not None and loaded.route("anyone") == ("1", "primary")
    assert "quality" in loaded.history[-1]["reason"]
    assert apply_alert(store, _alert("2")) is None  # already rolled back
