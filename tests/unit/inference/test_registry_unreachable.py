"""An unreachable MLflow is one clear error before anything is written: the
training CLI publishes nothing and says where it looked."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from inference.training.tracking import Registry, RegistryUnavailable
from mlmesh.localstack.base import free_port


def test_registry_refuses_at_once_when_mlflow_does_not_answer() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnavailable, match=f"MLflow at {uri} does not answer"):
        Registry(uri)


def test_train_publishes_nothing_without_the_registry(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from mlmesh.cli import train

    monkeypatch.setenv("MLMESH_STATE_DIR", str(tmp_path / "state"))
    repo = tmp_path / "repo"
    parser = argparse.ArgumentParser()
    train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--workload", "60", "--repository", str(repo),
                              "--registry", f"http://127.0.0.1:{free_port()}"])
    assert train.cmd_train(args) == 1
    assert "does not answer" in capsys.readouterr().err
    assert not (repo / "risk_scorer").exists()
