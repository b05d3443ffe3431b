"""topics.yaml applied to a real broker: idempotent, declared partitions and configs."""

from __future__ import annotations

import dataclasses
import uuid

from confluent_kafka.admin import AdminClient, ConfigResource

from mlmesh.kafka.topics import (
    TopicSpec,
    delete_topics,
    describe_topics,
    ensure_topics,
    load_topics,
)


def _renamed(specs: list[TopicSpec]) -> tuple[str, list[TopicSpec]]:
    """The declared topics under a unique prefix, so a shared broker stays clean."""
    prefix = f"tya{uuid.uuid4().hex[:6]}."
    return prefix, [dataclasses.replace(s, name=prefix + s.name) for s in specs]


def _configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    return {r.name: {k: e.value for k, e in f.result().items()}
            for r, f in admin.describe_configs(res).items()}


def test_topics_yaml_applies_idempotently(kafka_bootstrap: str) -> None:
    _, specs = _renamed(load_topics())
    names = [s.name for s in specs]
    try:
        created = ensure_topics(kafka_bootstrap, specs)
        assert created == sorted(names)
        assert ensure_topics(kafka_bootstrap, specs) == []  # second run: nothing new

        info = {t.name: t for t in describe_topics(kafka_bootstrap, names)}
        assert set(info) == set(names)
        configs = _configs(kafka_bootstrap, names)
        for s in specs:
            assert info[s.name].partitions == s.partitions, s.name
            assert info[s.name].end_offsets == [0] * s.partitions
            for key, value in s.config.items():
                assert configs[s.name][key] == value, (s.name, key)
        alerts = next(s for s in specs if s.name.endswith("alerts"))
        assert configs[alerts.name]["cleanup.policy"] == "compact,delete"
    finally:
        delete_topics(kafka_bootstrap, names)


def test_existing_topic_is_brought_up_to_its_declaration(kafka_bootstrap: str) -> None:
    name = f"tyb{uuid.uuid4().hex[:6]}"
    try:
        ensure_topics(kafka_bootstrap, [TopicSpec(name, 2, 1, {"retention.ms": "60000"})])
        changed = TopicSpec(name, 4, 1, {"retention.ms": "120000"})
        assert ensure_topics(kafka_bootstrap, [changed]) == []
        (info,) = describe_topics(kafka_bootstrap, [name])
        assert info.partitions == 4
        assert _configs(kafka_bootstrap, [name])[name]["retention.ms"] == "120000"
    finally:
        delete_topics(kafka_bootstrap, [name])
