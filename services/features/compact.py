"""Compaction of the Parquet offline store.

The writer appends one Parquet file per feature view per batch (its offsets
are committed only once the rows are on disk), so a busy writer leaves a file
every fraction of a second per view, and a historical join (``mlmesh train``,
Feast's file offline store) lists and opens every one of them. The compactor
merges them:

* **Candidates** are the view directory's ``*.parquet`` files smaller than
  ``target_bytes`` (the writer renames a finished hidden ``.tmp`` file, so
  every listed file is complete). Nothing happens below ``min_files``
  candidates.
* They are packed in window order into outputs of up to ``target_bytes``
  (input sizes); a lone candidate stays as it is. Each output keeps one row
  per (user, window end), the one with the newest ``created`` (what a
  point-in-time join picks among duplicates, which only replays leave),
  sorted by window end and user, written hidden, renamed, and only then are
  its inputs deleted.
* A crash between the rename and the deletes leaves rows in two files,
  identical to what a replay leaves (a join resolves them the same way); the
  next run merges them away.
* One compactor per view directory at a time (``.compact.lock``, ``flock``;
  a busy lock skips the view). A historical read that lists the directory
  before a compaction and opens a deleted input after it fails with a missing
  file; run it again (snapshot isolation needs a table format such as Delta or
  Iceberg, which the file offline store is not).

``python -m features.compact`` runs it once; the writer runs it every
``MLMESH_FEATURES_COMPACT_INTERVAL_S``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.catalog import CREATED_COLUMN, EVENT_TIMESTAMP_COLUMN, JOIN_KEY, VIEWS
from features.tiles import DELTA_VIEW
from mlmesh.common.lifecycle import StopSignal

log = logging.getLogger(__name__)

_FIRST = re.compile(r"^(?:part|compact)-(\d+)-")
LOCK = ".compact.lock"


@dataclass(frozen=True)
class Compacted:
    view: str
    inputs: int
    outputs: int
    rows_in: int
    rows_out: int


def _first_window(path: Path) -> int:
    m = _FIRST.match(path.name)
    return int(m.group(1)) if m else 0


def candidates(view_dir: Path, target_bytes: int) -> list[tuple[Path, int]]:
    """Complete files under ``target_bytes``, in window order, with their size."""
    out: list[tuple[Path, int]] = []
    for path in view_dir.glob("*.parquet"):
        if path.name.startswith((".", "_")):
            continue
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            if size < target_bytes:
                out.append((path, size))
    out.sort(key=lambda item: (_first_window(item[0]), item[0].name))
    return out


def pack(files: Sequence[tuple[Path, int]], target_bytes: int) -> list[list[Path]]:
    """Consecutive groups of up to ``target_bytes`` (a group of one is left alone)."""
    groups: list[list[Path]] = []
    current: list[Path] = []
    size = 0
    for path, n in files:
        if current and size + n > target_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(path)
        size += n
    if current:
        groups.append(current)
    return [g for g in groups if len(g) > 1]


@contextlib.contextmanager
def _locked(view_dir: Path) -> Iterator[bool]:
    fd = os.open(view_dir / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _merge(view_dir: Path, group: list[Path]) -> tuple[int, int]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.concat([pq.read_table(p).to_pandas() for p in group], ignore_index=True)
    rows_in = len(frame)
    # a window row: one per (user, window end), the newest emission; a tile
    # delta: every one, once per Kafka position (a writer replay repeats it)
    key = ([JOIN_KEY, "kafka_partition", "kafka_offset"] if view_dir.name == DELTA_VIEW
           else [JOIN_KEY, EVENT_TIMESTAMP_COLUMN])
    frame = (frame.sort_values([JOIN_KEY, EVENT_TIMESTAMP_COLUMN, CREATED_COLUMN], kind="stable")
             .drop_duplicates(key, keep="last")
             .sort_values([EVENT_TIMESTAMP_COLUMN, JOIN_KEY], kind="stable"))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    tmp = view_dir / f".compact-{_first_window(group[0])}-{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp)
    tmp.rename(view_dir / tmp.name[1:].replace(".tmp", ".parquet"))
    for path in group:  # only after the merged file is in place
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return rows_in, len(frame)


def compact_view(view_dir: Path, min_files: int = 32,
                 target_bytes: int = 64 * 1024 * 1024) -> Compacted:
    view = view_dir.name
    if not view_dir.is_dir():
        return Compacted(view, 0, 0, 0, 0)
    with _locked(view_dir) as mine:
        files = candidates(view_dir, target_bytes) if mine else []
        if len(files) < max(2, min_files):
            return Compacted(view, 0, 0, 0, 0)
        inputs = outputs = rows_in = rows_out = 0
        for group in pack(files, target_bytes):
            n_in, n_out = _merge(view_dir, group)
            inputs, outputs = inputs + len(group), outputs + 1
            rows_in, rows_out = rows_in + n_in, rows_out + n_out
    result = Compacted(view, inputs, outputs, rows_in, rows_out)
    if inputs:
        log.info("offline files compacted", extra=result.__dict__)
    return result


def compact(offline_dir: Path, views: Sequence[str] = (*VIEWS, DELTA_VIEW), min_files: int = 32,
            target_bytes: int = 64 * 1024 * 1024) -> list[Compacted]:
    return [compact_view(Path(offline_dir) / v, min_files, target_bytes) for v in views]


def run_every(offline_dir: Path, interval_s: float, stop: StopSignal, **kwargs: Any) -> None:
    """The writer's compaction thread: one pass per interval until ``stop``; a
    failed pass is logged and retried at the next interval (the files it did
    not merge stay valid)."""
    while not stop.wait(interval_s):
        try:
            compact(offline_dir, **kwargs)
        except Exception as exc:
            log.warning("offline compaction failed", extra={"error": repr(exc)})


def main(argv: Sequence[str] | None = None) -> int:
    from features.settings import Settings
    from mlmesh.common.logging import configure_logging

    settings = Settings()
    p = argparse.ArgumentParser(prog="python -m features.compact",
                                description="merge the offline store's small Parquet files")
    p.add_argument("--view", action="append", choices=sorted((*VIEWS, DELTA_VIEW)),
                   help="a feature view (repeatable; default: every view)")
    p.add_argument("--min-files", type=int, default=2,
                   help="compact a view once it has this many small files (default 2)")
    p.add_argument("--target-mb", type=int, default=settings.compact_target_mb)
    args = p.parse_args(argv)
    configure_logging("feature-compactor", settings.log_level, settings.log_json)
    offline = settings.offline_dir or settings.state_dir.resolve() / "features" / "offline"
    done = compact(offline, args.view or (*VIEWS, DELTA_VIEW), args.min_files,
                   args.target_mb * 1024 * 1024)  # each compacted view is logged
    log.info("compaction done", extra={"offline_dir": str(offline),
                                       "files_merged": sum(r.inputs for r in done),
                                       "files_written": sum(r.outputs for r in done)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
