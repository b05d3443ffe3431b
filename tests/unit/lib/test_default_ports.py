"""Every default port of the local mesh lies outside the ephemeral port range.

A listener on a port in that range can lose it to any outgoing connection of the
running stack between a check and its bind (the demo's inference service once failed
to bind 50052 that way)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from embedder.settings import Settings as EmbedderSettings
from features.settings import Settings as FeaturesSettings
from inference.settings import Settings as InferenceSettings
from ingest.settings import Settings as IngestSettings
from mlmesh.client_settings import ClientSettings
from mlmesh.common import ports
from mlmesh.common.settings import MeshSettings
from monitor.settings import Settings as MonitorSettings

pytestmark = pytest.mark.unit

SETTINGS: tuple[type[BaseSettings], ...] = (
    MeshSettings, ClientSettings, IngestSettings, FeaturesSettings, EmbedderSettings,
    InferenceSettings, MonitorSettings)


@pytest.fixture
def defaults_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MLMESH_* variable of the caller's shell reaches the Settings."""
    for var in [v for v in os.environ if v.startswith("MLMESH_")]:
        monkeypatch.delenv(var)


def _ephemeral(port: int) -> bool:
    lo = min(ports.LINUX_EPHEMERAL[0], ports.ephemeral_range()[0])
    hi = max(ports.LINUX_EPHEMERAL[1], ports.ephemeral_range()[1])
    return lo <= port <= hi


def test_the_defaults_are_outside_the_range_and_distinct() -> None:
    defaults = ports.all_defaults()
    assert {"KAFKA", "INGEST_GRPC", "INFERENCE_GRPC"} <= defaults.keys()
    assert not {k: v for k, v in defaults.items() if _ephemeral(v)}
    assert len(set(defaults.values())) == len(defaults)
    assert set(ports.STACK) <= set(defaults.values())


def _ports_of(settings: BaseSettings) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, int) and not isinstance(value, bool) and name.endswith("port"):
            found[name] = value
        elif isinstance(value, str) and (m := re.search(r":(\d{2,5})(?:/|$)", value)):
            found[name] = int(m.group(1))
    return found


@pytest.mark.usefixtures("defaults_only")
@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_no_settings_default_is_in_the_range(cls: type[BaseSettings]) -> None:
    found = _ports_of(cls())
    assert found, f"{cls}: no port among its defaults"
    assert not {k: v for k, v in found.items() if _ephemeral(v)}, found


@pytest.mark.usefixtures("defaults_only")
def test_the_client_defaults_reach_the_local_services() -> None:
    client = ClientSettings()
    assert client.ingest_grpc == IngestSettings().grpc_address
    inference = InferenceSettings()
    assert client.inference_grpc == f"{inference.grpc_host}:{inference.grpc_port}"
    assert client.monitor_url.endswith(f":{MonitorSettings().http_port}")


def test_the_range_is_read_from_proc_else_linux_default(tmp_path: Path) -> None:
    proc = tmp_path / "ip_local_port_range"
    proc.write_text("1024\t65000\n")
    assert ports.ephemeral_range(proc) == (1024, 65000)
    proc.write_text("garbage")
    assert ports.ephemeral_range(proc) == ports.LINUX_EPHEMERAL
    assert ports.ephemeral_range(tmp_path / "missing") == ports.LINUX_EPHEMERAL
