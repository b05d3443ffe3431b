"""Rollout routing: a policy decides which model version serves whom.

Policy (as stored in the rollout log, or in a YAML file)::

    primary: "1"          # serves everyone not in the canary
    canary: "2"           # optional; serves canary_share of users, sticky per user
    canary_share: 0.1     # 0..1
    shadow: "3"           # optional; scored and logged (route="shadow"), never served
    previous: "0"         # the primary before the last promotion (rollback target)
    updated_at_ms: ...    # alerts raised before this instant are ignored
    history: [...]        # the last changes, newest last

By default the policy lives in the rollout log that every replica follows
(``inference.control``, Kafka topic ``model-rollout``); a file is the
single-host alternative (``MLMESH_INFERENCE_ROUTING_FILE``), re-read when its
mtime changes. Either way the router checks its source's stamp at most every
``poll_s`` on the request path, so ``mlmesh rollout`` and the alert watcher
switch traffic without a restart.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import yaml

log = logging.getLogger(__name__)
BUCKETS = 10_000
HISTORY = 20


def user_bucket(user_id: str) -> int:
    """Stable bucket in [0, 10000) of a user (same in every process and release)."""
    digest = hashlib.sha256(user_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class RoutingPolicy:
    primary: str = ""
    canary: str = ""
    canary_share: float = 0.0
    shadow: str = ""
    previous: str = ""
    updated_at_ms: int = 0
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # position in the rollout log (inference.control); 0 in a policy file
    revision: int = 0

    def validate(self) -> RoutingPolicy:
        if not 0.0 <= self.canary_share <= 1.0:
            raise ValueError(f"canary_share must be within [0, 1], got {self.canary_share}")
        for name in ("primary", "canary", "shadow", "previous"):
            value = getattr(self, name)
            if value and not value.isdigit():
                raise ValueError(f"{name} must be a numeric model version, got {value!r}")
        return self

    def route(self, user_id: str) -> tuple[str, str]:
        """(version, route) that serves ``user_id``: route is primary or canary."""
        if self.canary and self.canary_share > 0 and \
                user_bucket(user_id) < round(self.canary_share * BUCKETS):
            return self.canary, "canary"
        return self.primary, "primary"

    def versions(self) -> set[str]:
        return {v for v in (self.primary, self.canary, self.shadow) if v}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["history"] = list(self.history)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoutingPolicy:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown routing keys {sorted(unknown)}")
        kwargs = {k: ("" if data[k] is None else str(data[k]))
                  for k in ("primary", "canary", "shadow", "previous") if k in data}
        return cls(canary_share=float(data.get("canary_share", 0.0) or 0.0),
                   updated_at_ms=int(data.get("updated_at_ms", 0) or 0),
                   revision=int(data.get("revision", 0) or 0),
                   history=tuple(data.get("history") or ()), **kwargs).validate()

    def changed(self, action: str, **changes: Any) -> RoutingPolicy:
        now = int(time.time() * 1000)
        entry = {"at_ms": now, "action": action,
                 **{k: v for k, v in changes.items() if k != "reason"},
                 **({"reason": changes["reason"]} if changes.get("reason") else {})}
        fields = {k: v for k, v in changes.items() if k in self.__dataclass_fields__}
        history = (*self.history, entry)[-HISTORY:]
        return replace(self, **fields, updated_at_ms=now, history=history).validate()

    # -- the rollout operations -----------------------------------------
    def set(self, *, primary: str | None = None, canary: str | None = None,
            canary_share: float | None = None, shadow: str | None = None) -> RoutingPolicy:
        changes: dict[str, Any] = {k: v for k, v in {
            "primary": primary, "canary": canary, "canary_share": canary_share,
            "shadow": shadow}.items() if v is not None}
        return self.changed("set", **changes)

    def promote(self, version: str = "") -> RoutingPolicy:
        target = version or self.canary or self.shadow
        if not target:
            raise ValueError("nothing to promote: no canary or shadow version set")
        return self.changed("promote", primary=target, previous=self.primary,
                            canary="" if target == self.canary else self.canary,
                            canary_share=0.0 if target == self.canary else self.canary_share,
                            shadow="" if target == self.shadow else self.shadow)

    def rollback(self, version: str = "", reason: str = "") -> RoutingPolicy | None:
        """The policy without ``version`` (default: the canary, else the shadow,
        else the primary back to ``previous``); None when nothing changes."""
        version = version or self.canary or self.shadow or self.primary
        if version and version == self.canary:
            return self.changed("rollback", canary="", canary_share=0.0, version=version,
                                reason=reason)
        if version and version == self.shadow:
            return self.changed("rollback", shadow="", version=version, reason=reason)
        if version and version == self.primary and self.previous:
            return self.changed("rollback", primary=self.previous, previous="",
                                version=version, reason=reason)
        return None


class PolicySource(Protocol):
    """Where the policy lives: a file (:class:`PolicyStore`, one host) or the
    rollout log every replica follows (:class:`inference.control.PolicyLog`)."""

    @property
    def path(self) -> Any: ...

    def load(self) -> RoutingPolicy | None: ...

    def stamp(self) -> object:
        """Changes whenever the stored policy may have changed."""

    def update(self, change: Callable[[RoutingPolicy], RoutingPolicy | None]
               ) -> RoutingPolicy | None: ...


class PolicyStore:
    """Read-modify-write of the policy file under an exclusive lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> RoutingPolicy | None:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return None
        data = yaml.safe_load(raw) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{self.path}: expected a mapping")
        return RoutingPolicy.from_dict(data)

    def stamp(self) -> object:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def save(self, policy: RoutingPolicy) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(policy.validate().to_dict(), sort_keys=False))
        tmp.replace(self.path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(self, change: Callable[[RoutingPolicy], RoutingPolicy | None]
               ) -> RoutingPolicy | None:
        """Apply ``change`` to the stored policy (an empty one if none); saves and
        returns the new policy, or None when ``change`` returned None."""
        with self.locked():
            new = change(self.load() or RoutingPolicy())
            if new is not None:
                self.save(new)
            return new


class Router:
    """The live policy of one process, hot-reloaded from the store."""

    def __init__(self, store: PolicySource, poll_s: float = 0.5,
                 fallback: Callable[[], str] | None = None) -> None:
        self.store = store
        self.poll_s = poll_s
        self.fallback = fallback
        self._lock = threading.Lock()
        self._policy = RoutingPolicy()
        self._stamp: object = None
        self._checked = 0.0
        self.reload(force=True)

    def reload(self, force: bool = False) -> RoutingPolicy:
        with self._lock:
            self._checked = time.monotonic()
            stamp = self.store.stamp()
            if not force and stamp == self._stamp and \
                    (stamp is not None or self._policy.primary):
                return self._policy
            try:
                policy = self.store.load()
            except (ValueError, yaml.YAMLError) as exc:
                log.error("invalid routing policy; keeping the last good one",
                          extra={"path": str(self.store.path), "error": str(exc)})
                self._stamp = stamp
                return self._policy
            if policy is None:
                primary = self.fallback() if self.fallback else ""
                policy = RoutingPolicy(primary=primary)
            if policy != self._policy:
                log.info("routing policy loaded", extra={
                    "primary": policy.primary, "canary": policy.canary,
                    "canary_share": policy.canary_share, "shadow": policy.shadow})
            self._policy, self._stamp = policy, stamp
            return policy

    def current(self) -> RoutingPolicy:
        if time.monotonic() - self._checked >= self.poll_s:
            return self.reload()
        return self._policy
