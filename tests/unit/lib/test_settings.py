"""Mesh-wide settings read MLMESH_*; a service may override with its prefix."""

from __future__ import annotations

from ingest.settings import Settings


def test_global_and_prefixed_variables(monkeypatch):
    monkeypatch.setenv("MLMESH_KAFKA_BOOTSTRAP", "global:1")
    monkeypatch.setenv("MLMESH_INGEST_USER_RATE", "7")
    s = Settings()
    assert s.kafka_bootstrap == "global:1" and s.user_rate == 7
    monkeypatch.setenv("MLMESH_INGEST_KAFKA_BOOTSTRAP", "mine:2")
    assert Settings().kafka_bootstrap == "mine:2"
    monkeypatch.setenv("MLMESH_KAFKA_SECURITY", "security.protocol=SSL, ssl.ca.location=/ca")
    assert Settings().kafka_extra() == {"security.protocol": "SSL", "ssl.ca.location": "/ca"}
