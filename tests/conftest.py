"""Test-suite wiring: fixtures for real servers come from ``mlmesh.testing``
plugins; each test's tier marker comes from its directory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PLUGINS = [
    "mlmesh.testing.containers",
    "mlmesh.testing.kafka",
    "mlmesh.testing.triton",
    "mlmesh.testing.milvus",
    "mlmesh.testing.redis",
    "mlmesh.testing.mlflow",
    "mlmesh.testing.stack",
    "mlmesh.testing.secure_kafka",
]
pytest_plugins = [p for p in _PLUGINS if importlib.util.find_spec(p) is not None]

_TIERS = {"unit": "unit", "integration": "integration", "e2e": "e2e", "chaos": "chaos",
          "containers": "containers"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        try:
            tier = Path(item.fspath).relative_to(root).parts[0]
        except ValueError:
            continue
        marker = _TIERS.get(tier)
        if marker:
            item.add_marker(getattr(pytest.mark, marker))
