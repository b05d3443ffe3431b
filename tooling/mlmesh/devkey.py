"""The local development API key: minted by ``mlmesh up`` when ``MLMESH_AUTH``
is on (tenant ``local``, every user), kept in ``<state dir>/auth/dev-key``
(mode 0600) and used by the CLI when no key is given."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
TENANT = "local"


def dev_key_path(state_dir: Path) -> Path:
    return state_dir / "auth" / "dev-key"


def read_dev_key(state_dir: Path) -> str:
    try:
        return dev_key_path(state_dir).read_text().strip()
    except OSError:
        return ""


def ensure_dev_key(bootstrap: str, topic: str, state_dir: Path,
                   extra: dict[str, str] | None = None) -> str:
    """The dev key, minted (and written to the key log) unless the file holds
    one the log still knows as active."""
    from mlmesh.auth.keylog import KeyLog
    from mlmesh.auth.keys import key_id_of, mint

    keys = KeyLog(bootstrap, topic, extra).start(30)
    try:
        current = read_dev_key(state_dir)
        key_id = key_id_of(current) if current else None
        record = keys.get(key_id) if key_id else None
        if record is not None and record.active() and record.matches(current):
            return current
        record, key = mint(TENANT, "*")
        keys.put(record)
    finally:
        keys.close()
    path = dev_key_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    log.info("local development API key minted", extra={"key_id": record.key_id,
                                                        "file": str(path)})
    return key
