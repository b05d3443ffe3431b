"""The mesh's runtime state under the state dir, as one thing: what `make
clean` / `mlmesh reset` remove together, so no store keeps data (or a Flink
checkpoint keeps offsets) of Kafka topics that no longer exist.

Kept: what is built or downloaded, not produced by running the mesh (jars,
models, tools, rendered manifests, the compose model repository, the image
variables). Everything else in the state dir is runtime state: Kafka's data and
cluster id, Flink checkpoints and savepoints, Feast online/offline data and
registry, Milvus and Redis data, Triton's published model versions, MLflow's
runs and model registry, rollout state, the monitor's tables, logs, pid
records and the demo's own state. A new kind of state is removed by default; a
new artefact must be listed here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

KEPT = ("jars", "models", "tools", "deploy", "compose", "images.env")


@dataclass
class ResetReport:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    bytes_removed: int = 0


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def runtime_state(state_dir: Path) -> list[Path]:
    """The entries of ``state_dir`` that are runtime state."""
    if not state_dir.is_dir():
        return []
    return sorted(p for p in state_dir.iterdir() if p.name not in KEPT)


def reset(state_dir: Path, dry_run: bool = False) -> ResetReport:
    """Remove every piece of runtime state under ``state_dir`` (stop the stack
    first: a running server would write some of it back)."""
    report = ResetReport(kept=sorted(p.name for p in state_dir.iterdir() if p.name in KEPT)
                         if state_dir.is_dir() else [])
    for path in runtime_state(state_dir):
        report.bytes_removed += _size(path)
        report.removed.append(path.name)
        if dry_run:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return report


if __name__ == "__main__":  # `make clean` without a virtual environment (stdlib only)
    import sys

    done = reset(Path(sys.argv[1]))
    sys.stdout.write(f"removed {', '.join(done.removed) or 'nothing'}\n")
