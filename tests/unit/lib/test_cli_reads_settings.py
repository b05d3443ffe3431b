"""``mlmesh rollout`` and ``mlmesh train`` take their configuration from the
Settings classes, the one reader of the environment: the routing file the
inference service reads, the client's Kafka bootstrap and Feast repository."""

from __future__ import annotations

import argparse
import os
import sys
import types
from pathlib import Path

import pytest

from mlmesh.cli import main as cli
from mlmesh.cli import train

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in [v for v in os.environ if v.startswith("MLMESH_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("MLMESH_STATE_DIR", str(tmp_path / "state"))


def test_rollout_writes_the_routing_file_the_service_reads(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from inference.router import PolicyStore
    from inference.settings import Settings

    routing = tmp_path / "policies" / "routing.yaml"
    monkeypatch.setenv("MLMESH_INFERENCE_ROUTING_FILE", str(routing))
    assert cli.main(["rollout", "set", "--primary", "7"]) == 0
    assert Settings().routing_file == routing
    policy = PolicyStore(routing).load()
    assert policy is not None and policy.primary == "7"


def test_train_reads_bootstrap_and_feast_repo_from_client_settings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, str] = {}

    class Store:
        def __init__(self, repo_path: str) -> None:
            seen["repo"] = repo_path

    def labels_from_topic(bootstrap: str, topic: str) -> object:
        seen["bootstrap"] = bootstrap
        raise ValueError("no labels")

    import inference.training.dataset as dataset

    # Feast's own FeatureStore takes seconds to import; only its constructor is used
    monkeypatch.setitem(sys.modules, "feast", types.SimpleNamespace(FeatureStore=Store))
    monkeypatch.setattr(dataset, "labels_from_topic", labels_from_topic)
    monkeypatch.setenv("MLMESH_CLIENT_KAFKA_BOOTSTRAP", "kafka.example:9092")
    monkeypatch.setenv("MLMESH_FEAST_REPO", str(tmp_path / "repo"))
    parser = argparse.ArgumentParser()
    train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--labels-topic", "labels", "--dry-run"])
    with pytest.raises(ValueError, match="no labels"):
        train.cmd_train(args)
    assert seen == {"repo": str(tmp_path / "repo"), "bootstrap": "kafka.example:9092"}
