"""Where the features job resumes from: the newest completed checkpoint or
savepoint under its checkpoint directory (no PyFlink import: the launchers and
the job's own ``--restore latest`` share it)."""

from __future__ import annotations

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
