"""The cluster profile without starting anything: the nodes' rendered config
(later keys win in a Java properties file), the stack's choice of profile and
what it hands to services and topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmesh.kafka.topics import TopicSpec
from mlmesh.localstack import stack
from mlmesh.localstack.kafka_cluster import KafkaClusterComponent, durable


def _props(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()  # the last occurrence wins, as in Java
    return out


def test_three_nodes_one_quorum_replicated_internal_topics(tmp_path: Path) -> None:
    comp = KafkaClusterComponent(tmp_path, node_ports=[(30001, 30002), (30003, 30004),
                                                       (30005, 30006)])
    assert comp.bootstrap == "127.0.0.1:30001,127.0.0.1:30003,127.0.0.1:30005"
    props = [_props(n.render_properties()) for n in comp.nodes]
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    voters = "1@127.0.0.1:30002,2@127.0.0.1:30004,3@127.0.0.1:30006"
    assert all(p["controller.quorum.voters"] == voters for p in props)
    assert len({p["log.dirs"] for p in props}) == 3
    for p in props:
        assert p["default.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["unclean.leader.election.enable"] == "false"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"


def test_durable_topics_keep_their_config() -> None:
    spec = durable(TopicSpec("alerts", 1, 1, {"cleanup.policy": "compact"}))
    assert spec.replication_factor == 3
    assert spec.config == {"cleanup.policy": "compact", "min.insync.replicas": "2"}


def test_profile_from_env_or_state_dir(tmp_path: Path) -> None:
    assert stack.StackContext(state_dir=tmp_path, env={}).profile == "single"
    ctx = stack.StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "cluster"})
    assert ctx.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19192,127.0.0.1:19292"
    assert ctx.service_env()["MLMESH_KAFKA_REPLICATION_FACTOR"] == "3"
    assert "MLMESH_KAFKA_REPLICATION_FACTOR" not in stack.StackContext(
        state_dir=tmp_path, env={}).service_env()
    stack.select_profile("cluster", tmp_path)
    assert stack.StackContext(state_dir=tmp_path, env={}).profile == "cluster"
    with pytest.raises(ValueError, match="unknown stack profile"):
        _ = stack.StackContext(state_dir=tmp_path, env={"MLMESH_STACK_PROFILE": "big"}).profile


def test_switching_a_state_dir_with_runtime_state_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()  # a single-profile mesh ran here
    with pytest.raises(ValueError, match="mlmesh reset"):
        stack.select_profile("cluster", tmp_path)
    stack.select_profile("single", tmp_path)  # the profile it has: fine


def test_factory_builds_the_cluster_on_the_configured_ports(tmp_path: Path) -> None:
    env = {"MLMESH_STACK_PROFILE": "cluster",
           "MLMESH_KAFKA_BOOTSTRAP": "127.0.0.1:31000,127.0.0.1:31015,127.0.0.1:31017",
           "MLMESH_STACK_KAFKA_CONTROLLER_PORTS": "31001,31018,31019"}
    comp = stack.kafka_factory(stack.StackContext(state_dir=tmp_path, env=env))
    assert isinstance(comp, KafkaClusterComponent)
    assert [(n.port, n.controller_port) for n in comp.nodes] == [
        (31000, 31001), (31015, 31018), (31017, 31019)]
