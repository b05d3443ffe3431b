"""pytest plugin: a real Kafka broker for integration tests.

Load with ``pytest_plugins = ["mlmesh.testing.kafka"]`` (or ``-p mlmesh.testing.kafka``).

* ``kafka_bootstrap`` (session): ``$MLMESH_TEST_KAFKA_BOOTSTRAP`` if set (an
  already running broker, e.g. ``mlmesh up``); else a Kafka 4.1 container
  (``apache/kafka``, or ``mlmesh/kafka`` from ``make images``) when a Docker
  engine answers and the image is there; else a local
  :class:`~mlmesh.localstack.kafka.KafkaComponent` on free ports in a temp
  state dir (:mod:`mlmesh.testing.containers` says how the path is chosen).
* ``kafka_topic_factory`` / ``kafka_topic``: uniquely named, ready topics.
* ``kafka_broker`` (function): a dedicated local broker with ``kill()`` and
  ``restart()`` for crash tests (always the local launcher: a test SIGKILLs
  it and brings it back on the same data).
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlmesh.kafka.topics import TopicSpec, delete_topics, ensure_topics
from mlmesh.localstack.base import free_port
from mlmesh.localstack.kafka import KafkaComponent
from mlmesh.testing.containers import ServerPath, choose, record

DOCKER_IMAGE = "apache/kafka:4.1.2"
TopicFactory = Callable[..., str]


def _two_free_ports() -> tuple[int, int]:
    a = free_port()
    b = free_port()
    while b == a:
        b = free_port()
    return a, b


def local_broker(state_dir: Path, name: str = "kafka") -> KafkaComponent:
    port, controller_port = _two_free_ports()
    return KafkaComponent(state_dir, port=port, controller_port=controller_port,
                          heap=os.environ.get("MLMESH_TEST_KAFKA_HEAP", "400m"), name=name)


def _docker_kafka() -> Iterator[str]:
    """``testcontainers``' ``KafkaContainer`` targets Confluent images (its
    ``with_kraft()`` rejects tag 4.x, its start script needs /etc/confluent), so
    apache/kafka (or mlmesh/kafka, configured the same way) runs as a generic
    container, configured by the env vars that image documents."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host_port = free_port()
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        # clients use the host port; the broker reaches itself (the transaction
        # coordinator's partition verification, KIP-890) on a listener of its
        # own, since 127.0.0.1:<host port> is nothing inside the container
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,BROKER://:9094,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{host_port},BROKER://localhost:9094",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_TRANSACTION_MAX_TIMEOUT_MS": "900000",
        # as the local launcher's broker: a first group or transaction creates
        # 10 internal partitions, not 50
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "10",
        "KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "10",
        "KAFKA_BROKER_SESSION_TIMEOUT_MS": "5000",
        "KAFKA_BROKER_HEARTBEAT_INTERVAL_MS": "1000",
    }
    image = choose("kafka", DOCKER_IMAGE).image
    container = DockerContainer(image).with_envs(**env).with_bind_ports(9092, host_port)
    container.waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    with container:
        yield f"127.0.0.1:{host_port}"


def consume_all(bootstrap: str, topic: str, *, isolation: str = "read_committed",
                timeout: float = 30.0) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of ``topic`` from the beginning up to the end of each
    partition (the LSO under read_committed), in partition then offset order."""
    from mlmesh.kafka.read import read_to_end

    got: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
    for msg in read_to_end(bootstrap, topic, isolation=isolation, timeout=timeout,
                           group_prefix="consume-all-"):
        got.setdefault(int(msg.partition() or 0), []).append((msg.key(), msg.value()))
    return [kv for p in sorted(got) for kv in got[p]]


@pytest.fixture(scope="session")
def kafka_mode() -> str:
    """``external``, ``docker`` or ``local``: how ``kafka_bootstrap`` is served."""
    if os.environ.get("MLMESH_TEST_KAFKA_BOOTSTRAP"):
        record(ServerPath("kafka", "external", why="MLMESH_TEST_KAFKA_BOOTSTRAP"))
        return "external"
    return choose("kafka", DOCKER_IMAGE).mode


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_mode: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a running single-node Kafka 4.1 (KRaft) broker."""
    if kafka_mode == "external":
        yield os.environ["MLMESH_TEST_KAFKA_BOOTSTRAP"]
    elif kafka_mode == "docker":
        yield from _docker_kafka()
    else:
        broker = local_broker(tmp_path_factory.mktemp("kafka-state"))
        broker.start(timeout=180)
        try:
            yield broker.bootstrap
        finally:
            broker.stop()


def _unique(request: pytest.FixtureRequest, prefix: str | None) -> str:
    base = prefix or re.sub(r"[^A-Za-z0-9._-]+", "_", request.node.name)[:60]
    return f"t.{base}.{uuid.uuid4().hex[:8]}"


@pytest.fixture
def kafka_topic_factory(kafka_bootstrap: str,
                        request: pytest.FixtureRequest) -> Iterator[TopicFactory]:
    """``make(partitions=1, config=None, prefix=None) -> name``: creates a
    uniquely named topic, waits until it is usable, deletes it afterwards."""
    made: list[str] = []

    def make(partitions: int = 1, config: Mapping[str, Any] | None = None,
             prefix: str | None = None) -> str:
        name = _unique(request, prefix)
        spec = TopicSpec(name, partitions, 1, {k: str(v) for k, v in (config or {}).items()})
        ensure_topics(kafka_bootstrap, [spec], timeout=60)
        made.append(name)
        return name

    yield make
    with contextlib.suppress(Exception):  # a test may have killed the broker
        delete_topics(kafka_bootstrap, made)


@pytest.fixture
def kafka_topic(kafka_topic_factory: TopicFactory) -> str:
    """One fresh single-partition topic."""
    return kafka_topic_factory()


@dataclass
class BrokerHandle:
    """A dedicated local broker a test may crash and bring back."""

    component: KafkaComponent

    @property
    def bootstrap(self) -> str:
        return self.component.bootstrap

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, unflushed page cache stays with the OS."""
        self.component.kill()

    def stop(self) -> None:
        self.component.stop()

    def restart(self, timeout: float = 120.0) -> None:
        """Start again on the same ports and data dir (after kill or stop)."""
        self.component.stop()
        self.component.start(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.component.status().running


@pytest.fixture
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    """A broker of this test's own, with ``kill()``/``restart()``."""
    handle = BrokerHandle(local_broker(tmp_path_factory.mktemp("kafka-crash")))
    handle.component.start(timeout=180)
    try:
        yield handle
    finally:
        handle.component.stop()
