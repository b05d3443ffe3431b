"""API keys and the users a key may act for.

A key is ``mlk_<key id>_<secret>``: the id (12 hex) finds its record, the
secret (32 random bytes, url-safe base64) proves possession. Only the SHA-256
of the whole key is stored, and it is compared in constant time. The secret is
shown once, when the key is minted; records are listed by id.

A key belongs to a *tenant* and carries the tenant's user scope: a pattern of
comma-separated globs matched against ``user_id`` (``acme-*``, ``alice,bob``,
``*`` for every user). Matching is case-sensitive (``fnmatchcase``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass, replace
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

PREFIX = "mlk"
_KEY = re.compile(r"^mlk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENTRY = re.compile(r"^[A-Za-z0-9._:@*?\[\]!-]{1,128}$")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id part of a well-formed key, None for anything else."""
    m = _KEY.match(key.strip())
    return m.group(1) if m else None


class UserScope:
    """The users a key may act for (see the module doc for the pattern)."""

    def __init__(self, pattern: str) -> None:
        entries = [e.strip() for e in pattern.split(",")]
        if not pattern.strip() or not all(entries):
            raise ValueError("a user pattern is one or more comma-separated globs, "
                             "e.g. 'acme-*' or 'alice,bob' or '*'")
        for e in entries:
            if not _ENTRY.match(e):
                raise ValueError(f"user pattern entry {e!r}: letters, digits, '._:@-' and "
                                 "the glob characters '*?[]!' only")
        self.pattern = ",".join(entries)
        self._entries = tuple(entries)

    def allows(self, user_id: str) -> bool:
        return bool(user_id) and any(fnmatchcase(user_id, e) for e in self._entries)


@dataclass(frozen=True)
class KeyRecord:
    """What the key log stores about one key: never the key itself."""

    key_id: str
    tenant: str
    users: str
    digest: str
    created_at_ms: int
    revoked_at_ms: int = 0
    replaced_by: str = ""   # the key id a rotation minted in its place
    expires_at_ms: int = 0  # 0 = no expiry (a rotated key's grace period ends here)

    def active(self, now_ms: int | None = None) -> bool:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return not self.revoked_at_ms and not (self.expires_at_ms and now >= self.expires_at_ms)

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.digest, digest(key))

    @cached_property
    def scope(self) -> UserScope:
        """The parsed user pattern, once per record (it is checked per request)."""
        return UserScope(self.users)

    def public(self) -> dict[str, Any]:
        """The record as listed: id, tenant, users, times; the digest is left out."""
        d = asdict(self)
        d.pop("digest")
        d["active"] = self.active()
        return d

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KeyRecord:
        rec = cls(key_id=str(d["key_id"]), tenant=str(d["tenant"]), users=str(d["users"]),
                  digest=str(d["digest"]), created_at_ms=int(d["created_at_ms"]),
                  revoked_at_ms=int(d.get("revoked_at_ms", 0)),
                  replaced_by=str(d.get("replaced_by", "")),
                  expires_at_ms=int(d.get("expires_at_ms", 0)))
        _ = rec.scope  # parsed now: a record with a bad pattern is refused, not half-trusted
        return rec

    def revoked(self, at_ms: int | None = None) -> KeyRecord:
        return replace(self, revoked_at_ms=at_ms or int(time.time() * 1000))


def mint(tenant: str, users: str) -> tuple[KeyRecord, str]:
    """A new key for ``tenant`` acting for ``users``: (its record, the key)."""
    if not _TENANT.match(tenant):
        raise ValueError("a tenant is 1-64 letters, digits, '.', '_' or '-'")
    scope = UserScope(users)
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return KeyRecord(key_id, tenant, scope.pattern, digest(key), int(time.time() * 1000)), key
