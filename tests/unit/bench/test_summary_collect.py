"""`python -m bench.run_all --collect`: the summary rebuilt from each area's
last result file, without running anything; a result without its own
``measured_at`` keeps the time the previous summary recorded, never the
file's mtime (a fresh checkout's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench import run_all  # noqa: E402


def _ratio(name: str, value: float, baseline: float) -> dict[str, object]:
    return {"name": name, "value": value, "baseline": baseline,
            "ratio": round(value / baseline, 4), "target": 0.5,
            "pass": value / baseline >= 0.5, "unit": "events/s", "note": ""}


def test_collect_rebuilds_summary_from_results(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_all, "RESULTS", tmp_path)
    monkeypatch.setattr(run_all, "BENCHES", [("features", "bench.features", [], 1),
                                             ("monitor", "bench.monitor", [], 1),
                                             ("ingest", "bench.ingest", [], 1)])
    (tmp_path / "features.json").write_text(json.dumps({
        "measured_at": "2026-12-02T11:17:56Z", "machine": {"loadavg_1m": 2.4},
        "ratios": [_ratio("job vs raw", 15884, 721688)]}))
    (tmp_path / "monitor.json").write_text(json.dumps({  # the reading's name before 2026-12-03
        "machine": {"loadavg_1m_at_start": 1.1},
        "ratios": [_ratio("monitor vs raw", 6000, 10000)]}))
    (tmp_path / "summary.json").write_text(json.dumps({"runs": [
        {"area": "monitor", "status": "ok", "measured_at": "2026-11-23T08:57:08Z",
         "result": {}}]}))
    monkeypatch.setattr(sys, "argv", ["run_all", "--collect"])

    assert run_all.main() == 1  # ingest has no result file: reported, not invented

    md = (tmp_path / "summary.md").read_text()
    assert "- features: 2026-12-02T11:17:56Z, load 2.4" in md
    assert "- monitor: 2026-11-23T08:57:08Z, load 1.1" in md
    assert "| features | job vs raw | 15884 events/s | 721688 | 0.022 | 0.5 | **no** |" in md
    assert "| monitor | monitor vs raw | 6000 events/s | 10000 | 0.6 | 0.5 | yes |" in md
    assert "| ingest | (missing) |" in md
    runs = {r["area"]: r for r in json.loads((tmp_path / "summary.json").read_text())["runs"]}
    assert runs["monitor"]["measured_at"] == "2026-11-23T08:57:08Z"
    assert runs["ingest"]["status"] == "missing"
