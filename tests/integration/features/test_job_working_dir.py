"""The mini-cluster's working files (RocksDB's local files, spills) live under
the component's state dir, not the system temp dir, and do not outlive a run:
a clean stop removes them and a start after a SIGKILL removes what the killed
run left (Flink deletes its working dir only on a clean close)."""

from __future__ import annotations

import uuid
from pathlib import Path

from features_scenario import Topics, job


def _working_dirs(tmp_dir: Path) -> set[str]:
    return {p.name for p in tmp_dir.glob("minicluster_*")}


def test_working_dir_is_the_components_and_is_removed(kafka_bootstrap: str,
                                                      tmp_path: Path) -> None:
    topics = Topics(f"w{uuid.uuid4().hex[:8]}")
    topics.create(kafka_bootstrap)
    comp = job(tmp_path, kafka_bootstrap, topics)
    assert comp.tmp_dir.is_relative_to(tmp_path)
    comp.start(timeout=240)
    try:
        first = _working_dirs(comp.tmp_dir)
        assert len(first) == 1, sorted(p.name for p in comp.tmp_dir.iterdir())
        comp.kill()
        assert _working_dirs(comp.tmp_dir) == first  # a crash leaves it behind
        comp.start(timeout=240)
        second = _working_dirs(comp.tmp_dir)
        assert len(second) == 1 and not second & first
    finally:
        comp.stop()
    assert not comp.tmp_dir.exists()
