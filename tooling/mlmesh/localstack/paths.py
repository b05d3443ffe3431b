"""Where the local stack keeps things: the checkout root and the state dir."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout this library lives in (``tooling/mlmesh/localstack`` -> root)."""
    return Path(__file__).resolve().parents[3]


def default_state_dir() -> Path:
    """``$MLMESH_STATE_DIR`` or ``<repo>/.mlmesh`` (jars, data, logs, pids)."""
    env = os.environ.get("MLMESH_STATE_DIR")
    return Path(env).resolve() if env else repo_root() / ".mlmesh"


def jars_root() -> Path:
    """Shared, downloaded jars: ``$MLMESH_JARS_DIR`` or ``<repo>/.mlmesh/jars``.

    Not below the state dir, so a throw-away state dir (tests) reuses them."""
    env = os.environ.get("MLMESH_JARS_DIR")
    return Path(env).resolve() if env else repo_root() / ".mlmesh" / "jars"
