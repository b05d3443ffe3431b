"""Who is calling and for which users: the check every front door runs.

* No key, a malformed key, an unknown id, a wrong secret, a revoked or expired
  key: ``Unauthenticated("invalid API key")`` (or "missing API key"), the same
  text for each so a caller learns nothing about which ids exist.
* A user outside the key's scope: ``PermissionDenied`` with one fixed text, so
  the answer says nothing about whether the user exists. Every denial is
  counted (``on_denied``) and logged with the key id and tenant, never the key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from mlmesh.auth.keys import KeyRecord, UserScope, key_id_of
from mlmesh.grpcx.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)
API_KEY_HEADER = "x-api-key"
DENIED = "this API key may not act for the requested user(s)"


class KeySource(Protocol):
    def get(self, key_id: str) -> KeyRecord | None: ...


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str
    scope: UserScope | None  # None: authentication is off, every user allowed


ANONYMOUS = Principal("anonymous", "", None)


def presented_key(pairs: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The key from gRPC metadata or HTTP headers: ``x-api-key: <key>`` or
    ``authorization: Bearer <key>`` (names case-insensitive)."""
    for k, v in pairs or ():
        value = v.decode() if isinstance(v, bytes) else v
        name = k.lower()
        if name == API_KEY_HEADER:
            return value.strip()
        if name == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip()
    return None


class Authorizer:
    def __init__(self, keys: KeySource | None,
                 on_denied: Callable[[str], None] | None = None) -> None:
        """``keys`` None: authentication off (every caller is anonymous, every
        user allowed)."""
        self.keys = keys
        self.on_denied = on_denied

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def _deny(self, kind: str) -> None:
        if self.on_denied is not None:
            self.on_denied(kind)

    def authenticate(self, key: str | None) -> Principal:
        if self.keys is None:
            return ANONYMOUS
        if not key:
            self._deny("unauthenticated")
            raise Unauthenticated("missing API key (x-api-key or authorization: Bearer)")
        key_id = key_id_of(key)
        record = self.keys.get(key_id) if key_id else None
        if record is None or not record.matches(key) or not record.active():
            self._deny("unauthenticated")
            log.info("API key refused", extra={"key_id": key_id or "malformed",
                                               "known": record is not None})
            raise Unauthenticated("invalid API key")
        return Principal(record.key_id, record.tenant, record.scope)

    def authorize(self, who: Principal, user_ids: Iterable[str], action: str) -> None:
        if who.scope is None:
            return
        if all(who.scope.allows(u) for u in user_ids):
            return
        self._deny("permission_denied")
        log.warning("request for users outside the key's scope refused",
                    extra={"key_id": who.key_id, "tenant": who.tenant, "action": action})
        raise PermissionDenied(DENIED)
