"""A real MLflow tracking server and model registry as a local process.

``mlflow server`` from ``.venv-mlflow`` (``make setup``), the embedded default
of an MLflow deployment: a SQLite backend store and a local artifact root under
the state dir, artifacts served through the server (``--serve-artifacts``), so
clients need only its URI (``MLMESH_MLFLOW_URI``). One gunicorn worker: the
registry's traffic is a training run now and then and the rollout controller.
"""

from __future__ import annotations

import os
from pathlib import Path

from inference.training.tracking import reachable
from mlmesh.common import ports
from mlmesh.localstack.base import LocalServer

REPO_ROOT = Path(__file__).resolve().parents[3]


class MlflowComponent(LocalServer):
    what = "mlflow"
    poll_interval = 0.5

    def __init__(self, state_dir: Path | str, port: int = ports.MLFLOW, name: str = "mlflow",
                 venv: Path | None = None) -> None:
        super().__init__(state_dir, name, port)
        self.venv = Path(venv or os.environ.get("MLMESH_MLFLOW_VENV") or
                         REPO_ROOT / ".venv-mlflow")
        self.root = self.state_dir / "mlflow"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def addresses(self) -> dict[str, str]:
        return {"http": self.uri}

    def healthy(self) -> bool:
        return reachable(self.uri, timeout=2.0)

    def prepare(self) -> tuple[dict[str, str] | None, Path | None]:
        if not (self.venv / "bin" / "mlflow").exists():
            raise RuntimeError(f"{self.venv}/bin/mlflow missing: run `make setup`")
        (self.root / "artifacts").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        # no telemetry, no upgrade nags: the server reaches nothing outside
        env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                    "GIT_PYTHON_REFRESH": "quiet"})
        return env, self.root

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "mlflow"), "server",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--serve-artifacts", "--artifacts-destination", str(self.root / "artifacts")]
