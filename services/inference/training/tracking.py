"""The MLflow tracking server and model registry, as training and rollouts use it.

* :meth:`Registry.log_training` records one training run (parameters, holdout
  metrics of the candidate and of the current champion, the data window, feature
  names, code revision, the model card, the ONNX file Triton loads) and
  registers it as a new version of the model. MLflow numbers versions; the
  Triton repository uses the same numbers, so "version 3" is one thing.
* :meth:`Registry.mirror` copies a routing policy onto the registry: aliases
  ``primary``, ``canary``, ``shadow``, ``previous``, and per version the tag
  ``mlmesh.stage`` (and ``mlmesh.rollback_reason`` when it was rolled back).
  The rollout log (``inference.control``) stays the source of truth.

The server is checked (``/health``) before anything is written, so an
unreachable registry is one clear error and nothing is half-applied; MLflow's
own HTTP retries are bounded (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and
``_TIMEOUT`` unless the caller set them).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from inference.contract import SCORER_MODEL
from inference.router import RoutingPolicy

log = logging.getLogger(__name__)
EXPERIMENT = "risk_scorer"
STAGES = ("primary", "canary", "shadow", "previous")


class RegistryUnavailable(RuntimeError):
    pass


def reachable(uri: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


class Registry:
    def __init__(self, uri: str, model: str = SCORER_MODEL) -> None:
        if not reachable(uri):
            raise RegistryUnavailable(
                f"MLflow at {uri} does not answer (MLMESH_MLFLOW_URI; `mlmesh up` starts "
                "one): nothing was registered or changed")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
        # the client prints run URLs to stdout (breaks --json) and logs its waits
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # after mlflow set its own

        self.uri, self.model = uri, model
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(EXPERIMENT)
        return exp.experiment_id if exp is not None else \
            self.client.create_experiment(EXPERIMENT)

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.model)
        except MlflowException:
            self.client.create_registered_model(
                self.model, description="mlmesh risk scorer (ONNX, served by Triton)")

    def next_version(self) -> int:
        """The number MLflow will give the next registered version."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name='{self.model}'")
        except MlflowException:
            return 1
        return max((int(v.version) for v in found), default=0) + 1

    def versions(self) -> list[str]:
        return sorted((v.version for v in
                       self.client.search_model_versions(f"name='{self.model}'")), key=int)

    def adopt(self, repository: Path, present: list[int]) -> list[str]:
        """Register the repository's versions MLflow does not know yet (models
        published before the registry existed, e.g. by an older release), in
        order, so that both number versions alike. The versions adopted."""
        adopted: list[str] = []
        following = self.next_version()  # asked once: each adoption takes the next number
        for number in sorted(present):
            if number < following:
                continue
            if number != following:
                raise RuntimeError(
                    f"the repository's {self.model} versions {present} cannot be numbered "
                    f"alike in MLflow ({self.uri}), whose next version is "
                    f"{following}: `mlmesh reset` clears both")
            vdir = repository / self.model / str(number)
            card_path = vdir / "model_card.json"
            card = json.loads(card_path.read_text()) if card_path.exists() else {}
            card.setdefault("data_window", {"labels_source": "unknown (adopted)"})
            _run, version = self.log_training(
                card=card, params={"adopted_from": str(vdir)}, metrics={},
                onnx=(vdir / "model.onnx").read_bytes(),
                run_name=f"{self.model}-v{number}-adopted")
            adopted.append(version)
            following = int(version) + 1
        return adopted

    def log_training(self, *, card: dict[str, Any], params: dict[str, Any],
                     metrics: dict[str, float], onnx: bytes, run_name: str) -> tuple[str, str]:
        """One run with everything logged, registered as a new version:
        (run_id, version)."""
        self._ensure_model()
        run = self.client.create_run(self._experiment_id(), run_name=run_name, tags={
            "mlmesh.code_revision": str(card.get("code_revision", "")),
            "mlmesh.labels_source": str(card["data_window"].get("labels_source", "")),
            "mlmesh.feature_service": str(card.get("feature_service", "")),
            "mlflow.source.git.commit": str(card.get("code_revision", "")).split("-")[0]})
        run_id = run.info.run_id
        try:
            from mlflow.entities import Metric, Param

            now = run.info.start_time
            self.client.log_batch(
                run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()
                                 if v == v],  # NaN (one-class holdout) is not logged
                params=[Param(k, str(v)[:6000]) for k, v in params.items()])
            with tempfile.TemporaryDirectory() as tmp:
                model_dir = Path(tmp) / "model"
                model_dir.mkdir()
                (model_dir / "model.onnx").write_bytes(onnx)
                (model_dir / "model_card.json").write_text(json.dumps(card, indent=2,
                                                                      sort_keys=True))
                self.client.log_artifacts(run_id, str(model_dir), "model")
            source = f"{run.info.artifact_uri}/model"
            version = self.client.create_model_version(
                self.model, source, run_id=run_id,
                tags={"mlmesh.stage": "registered"},
                description=f"holdout AUC {metrics.get('holdout_auc', float('nan')):.3f}")
            self.client.set_terminated(run_id, "FINISHED")
        except Exception:
            self.client.set_terminated(run_id, "FAILED")
            raise
        return run_id, str(version.version)

    def run_url(self, run_id: str) -> str:
        run = self.client.get_run(run_id)
        return f"{self.uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"

    def delete_version(self, version: str) -> None:
        self.client.delete_model_version(self.model, version)

    def mirror(self, policy: RoutingPolicy, rolled_back: str = "", reason: str = "") -> None:
        """Aliases and stage tags after a routing change (best effort: logged)."""
        try:
            self._ensure_model()
            known = set(self.versions())
            for stage in STAGES:
                version = getattr(policy, stage)
                if version and version in known:
                    self.client.set_registered_model_alias(self.model, stage, version)
                    self.client.set_model_version_tag(self.model, version, "mlmesh.stage",
                                                      stage)
                else:
                    with contextlib.suppress(Exception):  # no such alias
                        self.client.delete_registered_model_alias(self.model, stage)
            if rolled_back and rolled_back in known:
                self.client.set_model_version_tag(self.model, rolled_back, "mlmesh.stage",
                                                  "rolled_back")
                self.client.set_model_version_tag(self.model, rolled_back,
                                                  "mlmesh.rollback_reason", reason[:5000])
        except Exception as exc:
            log.warning("registry not updated", extra={"error": str(exc)[:300]})
