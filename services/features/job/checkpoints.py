"""Where the features job resumes from: the newest completed checkpoint or
savepoint under its checkpoint directory (no PyFlink import: the launchers and
the job's own ``--restore latest`` share it), and whether it may: a checkpoint
holds Kafka offsets, which mean nothing in another cluster or in a topic
created again, so the job records the Kafka identity (cluster id, source topic
ids) beside its checkpoints and refuses a restore recorded against other ids."""

from __future__ import annotations

import json
from pathlib import Path


def latest_checkpoint(root: Path) -> Path | None:
    """Newest completed ``chk-N`` or savepoint (with ``_metadata``) under ``root``."""
    if not root.is_dir():
        return None
    found = [m.parent for pattern in ("*/chk-*/_metadata", "savepoints/savepoint-*/_metadata")
             for m in root.glob(pattern) if m.is_file() and m.stat().st_size > 0]
    if not found:
        return None
    return max(found, key=lambda p: ((p / "_metadata").stat().st_mtime, p.name))


def resolve_restore(restore: str, checkpoint_dir: str) -> str:
    """``--restore`` as given: a path, empty (start fresh), or ``latest`` (the
    newest checkpoint under ``checkpoint_dir``, or fresh when there is none:
    what a container restarted by its engine needs)."""
    if restore != "latest":
        return restore
    found = latest_checkpoint(Path(checkpoint_dir))
    return str(found) if found is not None else ""


IDENTITY_FILE = "kafka-identity.json"


class KafkaIdentityMismatch(RuntimeError):
    """A checkpoint was taken against other Kafka topics than the running ones."""


def kafka_identity(bootstrap: str, topics: list[str], timeout: float = 30.0,
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    """The KRaft cluster id and each source topic's id: what a checkpoint's
    offsets are positions in. A reset cluster, or a topic deleted and
    created again, has new ids."""
    from confluent_kafka import KafkaException, TopicCollection
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, **(extra or {})})
    ident = {"cluster_id": str(admin.describe_cluster(request_timeout=timeout)
                               .result(timeout).cluster_id)}
    described = admin.describe_topics(TopicCollection(topics), request_timeout=timeout)
    for name, fut in sorted(described.items()):
        try:
            ident[f"topic:{name}"] = str(fut.result(timeout).topic_id)
        except KafkaException:  # not created yet: nothing to compare for it
            continue
    return ident


def checkpoint_root(restore: Path) -> Path:
    """The checkpoint directory a ``chk-N`` or savepoint dir belongs to
    (``<root>/<job id>/chk-N``, ``<root>/savepoints/savepoint-...``)."""
    return restore.parent.parent


def verify_identity(restore: Path, current: dict[str, str]) -> str:
    """Raise :class:`KafkaIdentityMismatch` (with what was found and what to
    do) when ``restore`` was recorded against other Kafka ids; a checkpoint
    with no record (taken before records existed) passes, said in the result."""
    recorded_path = checkpoint_root(restore) / IDENTITY_FILE
    if not recorded_path.is_file():
        return f"no Kafka identity recorded with {restore}: restoring unchecked"
    recorded = json.loads(recorded_path.read_text())
    differs = {k: (recorded[k], v) for k, v in current.items()
               if k in recorded and recorded[k] != v}
    if differs:
        what = "; ".join(f"{k}: checkpoint {old}, now {new}" for k, (old, new) in differs.items())
        raise KafkaIdentityMismatch(
            f"refusing to restore {restore}: its Kafka offsets belong to other topics ({what}). "
            "The broker or its topics were reset since (make clean resets them together "
            "with the checkpoints). To start over: `mlmesh reset` (or remove "
            f"{checkpoint_root(restore)}). To restore anyway (the same data restored into "
            "new topics at the same offsets): MLMESH_FEATURES_IGNORE_KAFKA_IDENTITY=1.")
    return "Kafka identity matches the checkpoint"


def record_identity(checkpoint_dir: Path, current: dict[str, str]) -> None:
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint_dir / f".{IDENTITY_FILE}.tmp"
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    tmp.replace(checkpoint_dir / IDENTITY_FILE)


def guard_restore(bootstrap: str, topics: list[str], checkpoint_dir: Path, restore: str,
                  ignore: bool = False, extra: dict[str, str] | None = None) -> str:
    """Before the job starts: a restore recorded against other Kafka ids is
    refused (:class:`KafkaIdentityMismatch`) unless ``ignore``; then the
    running ids are recorded for the checkpoints this run takes. Returns what
    was checked, for the log."""
    current = kafka_identity(bootstrap, topics, extra=extra)
    said = "fresh start"
    if restore:
        try:
            said = verify_identity(Path(restore), current)
        except KafkaIdentityMismatch:
            if not ignore:
                raise
            said = "Kafka identity differs from the checkpoint's: restoring anyway (asked to)"
    record_identity(checkpoint_dir, current)
    return said
