"""Publishing a chaos run: bench/results/<name>.json and a readable summary."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from mlmesh.chaos.run import RunReport
from mlmesh.localstack.paths import repo_root

log = logging.getLogger("mlmesh.chaos")


def publish(report: RunReport, name: str, results: Path | None = None) -> Path:
    """Write the run's figures to ``bench/results/<name>.json``; log the table."""
    results = results or repo_root() / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"{name}.json"
    out.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    log.warning("chaos seed %d (replay: MLMESH_CHAOS_SEED=%d)\n%s", report.seed, report.seed,
                report.audit.table())
    if report.missing_components:
        log.warning("components not registered in stack.COMPONENTS, their faults and "
                    "audits skipped: %s", ", ".join(report.missing_components))
    return out


def failure_summary(report: RunReport) -> str:
    bad_faults = [f for f in report.faults if not f["ok"]]
    return (f"seed {report.seed} (replay with MLMESH_CHAOS_SEED={report.seed})\n"
            f"{report.audit.table()}\nfailed faults: {bad_faults}\n"
            f"leftovers: {report.leftovers}\ndrain: {report.drain}")


RESULTS_DIR = repo_root() / "bench" / "results"


def write_json(path: Path, payload: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path
