"""The broker's rendered config and the stack registry, without starting anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlmesh.localstack import stack
from mlmesh.localstack.base import ComponentStatus
from mlmesh.localstack.kafka import KafkaComponent


def _props(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def test_server_properties_single_node_kraft(tmp_path: Path) -> None:
    comp = KafkaComponent(tmp_path, port=29901, controller_port=29902)
    text = comp.render_properties()
    assert "${" not in text and "$" not in re.sub(r"#.*", "", text)
    p = _props(text)
    assert p["process.roles"] == "broker,controller"
    assert p["controller.quorum.voters"] == "1@127.0.0.1:29902"
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:29901,CONTROLLER://127.0.0.1:29902"
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29901"
    assert p["log.dirs"] == str(tmp_path.resolve() / "data" / "kafka")
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "share.coordinator.state.topic.replication.factor",
                "share.coordinator.state.topic.min.isr"):
        assert p[key] == "1", key
    assert p["auto.create.topics.enable"] == "false"
    assert p["group.initial.rebalance.delay.ms"] == "0"
    assert int(p["transaction.max.timeout.ms"]) >= 900000
    assert int(p["log.cleaner.dedupe.buffer.size"]) <= 16 * 1024 * 1024


def test_extra_properties_are_appended(tmp_path: Path) -> None:
    comp = KafkaComponent(tmp_path, extra_properties={"log.flush.interval.messages": "1"})
    assert _props(comp.render_properties())["log.flush.interval.messages"] == "1"


def test_stopped_component_status(tmp_path: Path) -> None:
    st = KafkaComponent(tmp_path, port=29903, controller_port=29904).status()
    assert not st.running and not st.healthy and st.addresses["bootstrap"] == "127.0.0.1:29903"


def test_registry_kafka_first_and_enable_flags() -> None:
    assert stack.COMPONENTS[0].name == "kafka"
    entry = stack.COMPONENTS[0]
    assert entry.enabled(stack.StackContext(env={}))
    assert not entry.enabled(stack.StackContext(env={"MLMESH_STACK_KAFKA": "0"}))
    off = stack.ComponentEntry("x", "m:f", enabled_by_default=False)
    assert not off.enabled(stack.StackContext(env={}))
    assert off.enabled(stack.StackContext(env={"MLMESH_STACK_X": "1"}))
    with pytest.raises(ValueError, match="unknown components"):
        stack.entries(["nope"])


def test_kafka_factory_uses_bootstrap_port(tmp_path: Path) -> None:
    ctx = stack.StackContext(state_dir=tmp_path, env={"MLMESH_KAFKA_BOOTSTRAP": "127.0.0.1:29950"})
    comp = stack.kafka_factory(ctx)
    assert isinstance(comp, KafkaComponent)
    assert (comp.port, comp.controller_port) == (29950, 29951)
    env = ctx.service_env(MLMESH_INGEST_PORT="1")
    assert env["MLMESH_KAFKA_BOOTSTRAP"] == "127.0.0.1:29950"
    assert env["MLMESH_STATE_DIR"] == str(tmp_path) and env["MLMESH_INGEST_PORT"] == "1"


def test_ports_parsed_from_addresses() -> None:
    st = ComponentStatus("s", True, True, addresses={
        "grpc": "127.0.0.1:50051", "http": "http://127.0.0.1:8080/healthz", "name": "x"})
    assert stack._ports(st) == [50051, 8080]
