"""deploy/topics.yaml declares every mesh topic with the intended shape."""

from __future__ import annotations

import pytest
import yaml

from mlmesh.kafka.topics import TopicsFileError, default_topics_path, load_topics, parse_topics

DATA_TOPICS = {
    "user_events": 6, "documents": 3, "labels": 3, "feature_updates": 6,
    "embeddings_written": 3, "predictions": 6, "alerts": 1,
}
# no dead-letter twin: written by the mesh's own tools
CONTROL_TOPICS = {"model-rollout", "api-keys"}


@pytest.fixture(scope="module")
def specs() -> dict[str, object]:
    return {s.name: s for s in load_topics()}


def test_default_path_is_the_repo_file() -> None:
    path = default_topics_path()
    assert path.name == "topics.yaml" and path.parent.name == "deploy" and path.exists()


def test_data_topics_have_declared_partitions(specs: dict) -> None:
    for name, partitions in DATA_TOPICS.items():
        assert specs[name].partitions == partitions, name
        assert specs[name].replication_factor == 1


def test_every_data_topic_has_a_dlq_with_longer_retention(specs: dict) -> None:
    for name in DATA_TOPICS:
        dlq = specs[f"{name}.dlq"]
        assert dlq.is_dlq and 1 <= dlq.partitions <= 3
        assert int(dlq.config["retention.ms"]) > int(specs[name].config["retention.ms"])
        assert dlq.config["cleanup.policy"] == "delete"
    assert set(specs) == set(DATA_TOPICS) | {f"{n}.dlq" for n in DATA_TOPICS} | CONTROL_TOPICS


def test_the_rollout_log_is_one_partition_kept_forever(specs: dict) -> None:
    # one total order for compare-and-set; the log is the audit history
    rollout = specs["model-rollout"]
    assert rollout.partitions == 1 and int(rollout.config["retention.ms"]) == -1
    assert rollout.config["cleanup.policy"] == "delete"


def test_alerts_compact_and_delete_others_delete(specs: dict) -> None:
    assert specs["alerts"].config["cleanup.policy"] == "compact,delete"
    for name in set(DATA_TOPICS) - {"alerts"}:
        assert specs[name].config["cleanup.policy"] == "delete"


def test_config_values_become_strings() -> None:
    doc = yaml.safe_load("""
topics:
  - {name: a, partitions: 2, config: {retention.ms: 1000, preallocate: true}}
""")
    (spec,) = parse_topics(doc)
    assert spec.config == {"retention.ms": "1000", "preallocate": "true"}
    assert spec.replication_factor == 1 and not spec.is_dlq


@pytest.mark.parametrize("doc, match", [
    ({}, "topics"),
    ({"topics": [{"name": "a", "partitions": 0}]}, "partitions"),
    ({"topics": [{"name": "a", "partitions": True}]}, "partitions"),
    ({"topics": [{"name": "a b", "partitions": 1}]}, "invalid topic name"),
    ({"topics": [{"name": "a", "partitions": 1}, {"name": "a", "partitions": 2}]}, "twice"),
    ({"topics": [{"name": "a", "partitions": 1, "retention": 5}]}, "unknown keys"),
    ({"topics": [{"name": "a", "partitions": 1, "config": [1]}]}, "config"),
    ({"defaults": {"replication_factor": 0}, "topics": [{"name": "a", "partitions": 1}]},
     "replication_factor"),
])
def test_malformed_files_are_rejected(doc: object, match: str) -> None:
    with pytest.raises(TopicsFileError, match=match):
        parse_topics(doc)


def test_the_key_log_is_one_compacted_partition(specs: dict) -> None:
    # the newest record of a key id is its state (mlmesh.auth.keylog)
    keys = specs["api-keys"]
    assert keys.partitions == 1 and keys.config["cleanup.policy"] == "compact"
