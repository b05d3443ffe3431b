"""One-shot assembly of Triton's model repositories (compose `triton-repo-init`).

The committed repositories (deploy/triton/model_repository{,_gpu}) hold configs
and model code; the ONNX graph and tokenizer come from `make models`
(.mlmesh/models). This runs the same ``assemble_repository`` as the local
launcher, writing <dest>/cpu and <dest>/gpu for the two Triton flavours.

Environment: MLMESH_TRITON_REPO_DEST (default /var/lib/mlmesh/triton),
MLMESH_TRITON_REPO_SOURCE (the checkout's deploy/triton, mounted read-only),
MLMESH_MODELS_DIR (built artifacts, mounted read-only).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from mlmesh.localstack.triton import GPU_ARTIFACTS, assemble_repository

log = logging.getLogger("mlmesh.triton_repo_init")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format='{"level":"%(levelname)s","msg":"%(message)s"}')
    dest = Path(os.environ.get("MLMESH_TRITON_REPO_DEST", "/var/lib/mlmesh/triton"))
    source = Path(os.environ.get("MLMESH_TRITON_REPO_SOURCE", "/opt/mlmesh/deploy/triton"))
    models = Path(os.environ.get("MLMESH_MODELS_DIR", "/opt/mlmesh/models"))
    try:
        assemble_repository(dest / "cpu", models, source=source / "model_repository")
        assemble_repository(
            dest / "gpu",
            models,
            source=source / "model_repository_gpu",
            artifacts_map=GPU_ARTIFACTS,
        )
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 1
    log.info("model repositories assembled under %s", dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
