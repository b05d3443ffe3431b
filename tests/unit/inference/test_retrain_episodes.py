"""Drift episodes (inference.delivery.retrain): one retrain per episode, however
many drift alerts fire in it; a new episode after every alert of the last one
resolved retrains again; other rules never retrain."""

from __future__ import annotations

import threading

from inference.delivery.retrain import DriftRetrainer
from mlmesh.events.v1 import alert_pb2


def _alert(alert_id: str, resolved: bool = False, rule: str = "feature_drift",
           severity: int = alert_pb2.SEVERITY_WARNING) -> alert_pb2.Alert:
    return alert_pb2.Alert(alert_id=alert_id, rule=rule, severity=severity,
                           resolved=resolved, metric="psi", message=f"{rule} {alert_id}")


def test_one_retrain_per_episode() -> None:
    calls: list[str] = []
    done = threading.Event()

    def retrain(reason: str) -> str:
        calls.append(reason)
        done.set()
        return reason

    r = DriftRetrainer("127.0.0.1:1", "alerts", retrain)
    try:
        assert r.handle(_alert("a1"))
        assert not r.handle(_alert("a2"))       # another feature, same episode
        assert not r.handle(_alert("a1"))       # a repeat
        assert not r.handle(_alert("x", rule="error_rate_high"))
        assert done.wait(5)
        r._worker.join(5)  # type: ignore[union-attr]
        assert not r.handle(_alert("a1", resolved=True))
        assert not r.handle(_alert("a3"))       # a2 still firing: same episode
        assert not r.handle(_alert("a2", resolved=True))
        assert not r.handle(_alert("a3", resolved=True))
        assert r.handle(_alert("b1"))           # every alert resolved: a new episode
        r._worker.join(5)  # type: ignore[union-attr]
        assert r.episodes == 2 and len(calls) == 2 and "feature_drift a1" in calls[0]
        assert not r.handle(_alert("c1", severity=alert_pb2.SEVERITY_INFO))
    finally:
        r.consumer.close()
