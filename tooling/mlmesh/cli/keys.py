"""``mlmesh keys``: API keys of tenants, on the key log every service follows
(Kafka topic ``api-keys``; ``mlmesh.auth``).

    mlmesh keys create --tenant acme --users 'acme-*' [--json]
    mlmesh keys list [--tenant acme] [--json]
    mlmesh keys rotate --id 3f2a... [--grace 3600] [--json]
    mlmesh keys revoke --id 3f2a...
    mlmesh keys dev

``dev`` makes sure ``<state dir>/auth/dev-key`` holds an active key of tenant
``local`` for every user (minting one when not): the key the CLI sends when
``MLMESH_CLIENT_API_KEY`` is unset. ``MLMESH_AUTH=1 mlmesh up`` and
``make compose-up`` run it.

``create`` and ``rotate`` print the new key once (``key`` in the JSON); only its
SHA-256 is stored. ``rotate`` mints a key with the same tenant and users and
lets the old one work for ``--grace`` seconds (default 0: revoked at once).
Revocation reaches every replica within a second or so (they follow the log).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from typing import Any


def _log() -> Any:
    from mlmesh.auth.keylog import KeyLog
    from mlmesh.client_settings import ClientSettings

    s = ClientSettings()
    return KeyLog(s.kafka_bootstrap, s.keys_topic, s.kafka_extra()).start(15)


def _print_key(record: Any, key: str, as_json: bool, extra: dict[str, Any]) -> None:
    if as_json:
        sys.stdout.write(json.dumps({**record.public(), "key": key, **extra}) + "\n")
        return
    sys.stdout.write(f"key {record.key_id} for tenant {record.tenant}, users {record.users!r}\n"
                     f"  {key}\n  (shown once: only its hash is stored)\n")


def _create(keys: Any, args: argparse.Namespace) -> int:
    from mlmesh.auth.keys import mint

    record, key = mint(args.tenant, args.users)
    keys.put(record)
    _print_key(record, key, args.json, {})
    return 0


def _list(keys: Any, args: argparse.Namespace) -> int:
    rows = [r.public() for r in keys.records() if not args.tenant or r.tenant == args.tenant]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for r in rows:
        state = "active" if r["active"] else "revoked" if r["revoked_at_ms"] else "expired"
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["created_at_ms"] / 1000))
        sys.stdout.write(f"{r['key_id']}  {r['tenant']:<16} {state:<8} {created}Z  "
                         f"users {r['users']!r}"
                         f"{'  replaced by ' + r['replaced_by'] if r['replaced_by'] else ''}\n")
    if not rows:
        sys.stdout.write("no keys\n")
    return 0


def _known(keys: Any, key_id: str) -> Any:
    record = keys.get(key_id)
    if record is None:
        raise LookupError(f"no key with id {key_id!r} (`mlmesh keys list`)")
    return record


def _rotate(keys: Any, args: argparse.Namespace) -> int:
    from mlmesh.auth.keys import mint

    old = _known(keys, args.id)
    if not old.active():
        raise LookupError(f"key {args.id} is not active: create a new one instead")
    record, key = mint(old.tenant, old.users)
    keys.put(record)
    now = int(time.time() * 1000)
    keys.put(replace(old, replaced_by=record.key_id, expires_at_ms=now + int(args.grace * 1000))
             if args.grace > 0 else replace(old.revoked(now), replaced_by=record.key_id))
    _print_key(record, key, args.json, {"replaces": old.key_id, "grace_s": args.grace})
    return 0


def _revoke(keys: Any, args: argparse.Namespace) -> int:
    old = _known(keys, args.id)
    if old.revoked_at_ms:
        sys.stdout.write(f"key {args.id} was already revoked\n")
        return 0
    keys.put(old.revoked())
    sys.stdout.write(f"key {args.id} revoked (tenant {old.tenant})\n")
    return 0


def _dev(keys: Any, args: argparse.Namespace) -> int:
    from mlmesh.auth.keys import key_id_of
    from mlmesh.client_settings import ClientSettings
    from mlmesh.devkey import dev_key_path, ensure_dev_key

    s = ClientSettings()
    key = ensure_dev_key(s.kafka_bootstrap, s.keys_topic, s.state_dir, s.kafka_extra())
    out = {"key_id": key_id_of(key), "file": str(dev_key_path(s.state_dir))}
    sys.stdout.write(json.dumps(out) + "\n" if args.json else
                     f"dev key {out['key_id']} in {out['file']} (the CLI's default key)\n")
    return 0


ACTIONS = {"create": _create, "list": _list, "rotate": _rotate, "revoke": _revoke,
           "dev": _dev}


def cmd_keys(args: argparse.Namespace) -> int:
    try:
        keys = _log()
    except (TimeoutError, RuntimeError) as exc:
        sys.stderr.write(f"error: the key log cannot be read: {exc}\n")
        return 1
    try:
        return ACTIONS[args.action](keys, args)
    except (ValueError, LookupError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except (TimeoutError, RuntimeError) as exc:
        sys.stderr.write(f"error: the key change was not written: {exc}\n")
        return 1
    finally:
        keys.close()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("keys", help="API keys of tenants: create, list, rotate, revoke",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=sorted(ACTIONS))
    p.add_argument("--tenant", help="create: the key's tenant; list: only this tenant")
    p.add_argument("--users", help="create: the users the key may act for, comma-separated "
                                    "globs ('acme-*', 'alice,bob', '*')")
    p.add_argument("--id", help="rotate/revoke: the key id (from `keys list`)")
    p.add_argument("--grace", type=float, default=0.0,
                   help="rotate: seconds the old key keeps working (default 0)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    need = {"create": ("tenant", "users"), "rotate": ("id",), "revoke": ("id",)}
    missing = [f"--{n}" for n in need.get(args.action, ()) if not getattr(args, n)]
    if missing:
        sys.stderr.write(f"error: mlmesh keys {args.action} needs {' and '.join(missing)}\n")
        return 2
    return cmd_keys(args)
