"""pytest fixture: a real MLflow tracking server and model registry
(``mlflow server`` from .venv-mlflow, SQLite backend, served artifacts) on a
free port, one per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlmesh.localstack.base import free_port
from mlmesh.localstack.mlflow import MlflowComponent


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    comp = MlflowComponent(tmp_path_factory.mktemp("mlflow-state"), port=free_port(),
                           name="mlflow-test")
    comp.start(timeout=120)
    try:
        yield comp.uri
    finally:
        comp.stop()
