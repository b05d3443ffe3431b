"""The mesh's topics: load ``deploy/topics.yaml`` and apply it to a cluster.

``ensure_topics`` is idempotent: missing topics are created, existing ones get
missing partitions added and declared configs set; then it waits until every
topic's metadata shows all partitions with a leader (on Kafka 4.x a freshly
created topic is not visible at once, KAFKA-18818). Tests use it with their own
``TopicSpec`` lists.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_dlq(self) -> bool:
        return self.name.endswith(DLQ_SUFFIX)


@dataclass
class TopicInfo:
    """What ``describe_topics`` reports: partitions and end offsets."""

    name: str
    partitions: int
    end_offsets: list[int]

    @property
    def messages(self) -> int:
        return sum(self.end_offsets)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "partitions": self.partitions,
                "end_offsets": self.end_offsets, "messages": self.messages}


class TopicsFileError(ValueError):
    """``topics.yaml`` is malformed."""


def default_topics_path() -> Path:
    """``$MLMESH_TOPICS_FILE`` or ``deploy/topics.yaml`` of this checkout."""
    env = os.environ.get("MLMESH_TOPICS_FILE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "deploy" / "topics.yaml"


def parse_topics(doc: Any) -> list[TopicSpec]:
    """Validate a parsed ``topics.yaml`` document into specs."""
    if not isinstance(doc, dict) or not isinstance(doc.get("topics"), list):
        raise TopicsFileError("expected a mapping with a 'topics' list")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise TopicsFileError("'defaults' must be a mapping")
    default_rf = int(defaults.get("replication_factor", 1))
    specs: list[TopicSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["topics"]):
        if not isinstance(raw, dict):
            raise TopicsFileError(f"topics[{i}] must be a mapping")
        unknown = set(raw) - {"name", "partitions", "replication_factor", "config"}
        if unknown:
            raise TopicsFileError(f"topics[{i}]: unknown keys {sorted(unknown)}")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name) or name in {".", ".."}:
            raise TopicsFileError(f"topics[{i}]: invalid topic name {name!r}")
        if name in seen:
            raise TopicsFileError(f"topic {name!r} declared twice")
        seen.add(name)
        partitions = raw.get("partitions")
        if not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1:
            raise TopicsFileError(f"{name}: partitions must be a positive integer")
        rf = raw.get("replication_factor", default_rf)
        if not isinstance(rf, int) or rf < 1:
            raise TopicsFileError(f"{name}: replication_factor must be a positive integer")
        config = raw.get("config") or {}
        if not isinstance(config, dict):
            raise TopicsFileError(f"{name}: config must be a mapping")
        specs.append(TopicSpec(name=name, partitions=partitions, replication_factor=rf,
                               config={str(k): _config_value(v) for k, v in config.items()}))
    return specs


def _config_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_topics(path: Path | None = None) -> list[TopicSpec]:
    """Read and validate ``topics.yaml`` (default: ``default_topics_path()``)."""
    path = path or default_topics_path()
    with open(path) as fh:
        return parse_topics(yaml.safe_load(fh))


def _admin(bootstrap: str | AdminClient) -> AdminClient:
    if isinstance(bootstrap, AdminClient):
        return bootstrap
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})


def ensure_topics(bootstrap: str | AdminClient, specs: Sequence[TopicSpec],
                  timeout: float = 60.0, alter_existing: bool = True) -> list[str]:
    """Create missing topics, grow partitions / set configs of existing ones,
    and wait for all of them to be visible. Returns the names it created."""
    admin = _admin(bootstrap)
    if not specs:
        return []
    req_timeout = max(5.0, min(timeout, 30.0))
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor,
                  config=dict(s.config)) for s in specs],
        operation_timeout=req_timeout, request_timeout=req_timeout,
    )
    created: list[str] = []
    existing: list[TopicSpec] = []
    by_name = {s.name: s for s in specs}
    for name, fut in futures.items():
        try:
            fut.result()
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                existing.append(by_name[name])
            else:
                raise
    if existing and alter_existing:
        _reconcile(admin, existing, req_timeout)
    wait_for_topics(admin, specs, timeout=timeout)
    log.info("topics ensured", extra={"topics_created": created,
                                      "existing": [s.name for s in existing]})
    return sorted(created)


def _reconcile(admin: AdminClient, specs: Sequence[TopicSpec], timeout: float) -> None:
    """Bring existing topics up to their declaration (partitions can only grow)."""
    meta = admin.list_topics(timeout=timeout).topics
    grow = []
    for s in specs:
        have = len(meta[s.name].partitions) if s.name in meta else s.partitions
        if have < s.partitions:
            grow.append(NewPartitions(s.name, s.partitions))
        elif have > s.partitions:
            log.warning("topic has more partitions than declared (cannot shrink)",
                        extra={"topic": s.name, "have": have, "declared": s.partitions})
    if grow:
        for fut in admin.create_partitions(grow, request_timeout=timeout).values():
            fut.result()
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in specs if s.config]
    if not resources:
        return
    current = {res.name: fut.result(timeout=timeout) for res, fut in
               admin.describe_configs(resources, request_timeout=timeout).items()}
    changes = []
    for s in specs:
        entries = current.get(s.name, {})
        diff = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in s.config.items() if k not in entries or entries[k].value != v]
        if diff:
            changes.append(ConfigResource(ConfigResource.Type.TOPIC, s.name,
                                          incremental_configs=diff))
    if changes:
        for fut in admin.incremental_alter_configs(changes, request_timeout=timeout).values():
            fut.result()
        log.info("topic configs updated", extra={"topics": [c.name for c in changes]})


def wait_for_topics(bootstrap: str | AdminClient, specs: Iterable[TopicSpec],
                    timeout: float = 60.0) -> None:
    """Block until every topic's metadata lists all its partitions with a leader
    AND the leader answers ListOffsets for each (on 4.x metadata can show a
    leader that still replies NOT_LEADER_OR_FOLLOWER for a moment)."""
    admin = _admin(bootstrap)
    pending = {s.name: s.partitions for s in specs}
    deadline = time.monotonic() + timeout
    while True:
        try:
            topics = admin.list_topics(timeout=5).topics
        except KafkaException:
            topics = {}
        visible = [n for n, want in pending.items()
                   if (t := topics.get(n)) is not None and t.error is None
                   and len(t.partitions) >= want
                   and all(p.leader >= 0 and p.error is None for p in t.partitions.values())]
        if visible and _leaders_answer(admin, {n: list(topics[n].partitions) for n in visible}):
            for n in visible:
                del pending[n]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not ready after {timeout:.0f}s: {sorted(pending)}")
        time.sleep(0.1)


def _leaders_answer(admin: AdminClient, partitions: Mapping[str, list[int]]) -> bool:
    request = {TopicPartition(n, p): OffsetSpec.latest()
               for n, parts in partitions.items() for p in parts}
    try:
        for fut in admin.list_offsets(request, request_timeout=5).values():
            fut.result()
    except KafkaException:
        return False
    return True


def describe_topics(bootstrap: str | AdminClient, names: Iterable[str] | None = None,
                    include_internal: bool = False, timeout: float = 10.0) -> list[TopicInfo]:
    """Partition counts and end offsets (latest) of the cluster's topics."""
    admin = _admin(bootstrap)
    meta = admin.list_topics(timeout=timeout).topics
    wanted = sorted(names) if names is not None else sorted(
        n for n in meta if include_internal or not n.startswith("__"))
    request = {TopicPartition(n, p): OffsetSpec.latest()
               for n in wanted if n in meta for p in meta[n].partitions}
    offsets: dict[tuple[str, int], int] = {}
    if request:
        for tp, fut in admin.list_offsets(request, request_timeout=timeout).items():
            offsets[(tp.topic, tp.partition)] = int(fut.result().offset)
    result = []
    for n in wanted:
        if n not in meta:
            continue
        parts = sorted(meta[n].partitions)
        result.append(TopicInfo(n, len(parts), [offsets.get((n, p), -1) for p in parts]))
    return result


def delete_topics(bootstrap: str | AdminClient, names: Sequence[str],
                  timeout: float = 30.0) -> None:
    """Delete topics (unknown ones are ignored)."""
    if not names:
        return
    admin = _admin(bootstrap)
    for fut in admin.delete_topics(list(names), operation_timeout=timeout).values():
        try:
            fut.result()
        except KafkaException as exc:
            err = exc.args[0]
            if not (isinstance(err, KafkaError)
                    and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
                raise
