"""`make compose-models`: the Triton model repository the compose mesh mounts.

Writes ``.mlmesh/compose/triton/cpu`` (and ``gpu`` with ``--gpu``) from the
committed repositories (deploy/triton) and the artifacts of ``make models``,
the same assembly ``mlmesh up`` does, then trains a first scoring model from a
generated workload when none is published yet (as ``mlmesh up`` does). Files
are hard links or copies, never symlinks, so the directory can be bind-mounted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from mlmesh.localstack.paths import repo_root
from mlmesh.localstack.triton import GPU_ARTIFACTS, SOURCE_REPOSITORY, assemble_repository


def main(argv: list[str] | None = None) -> int:
    root = repo_root()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dest", type=Path, default=root / ".mlmesh" / "compose" / "triton")
    p.add_argument("--models", type=Path, default=root / ".mlmesh" / "models")
    p.add_argument("--gpu", action="store_true", help="also the GPU repository "
                   "(needs `make models-gpu-transport`)")
    args = p.parse_args(argv)
    cpu = assemble_repository(args.dest / "cpu", args.models)
    if args.gpu:
        assemble_repository(args.dest / "gpu", args.models,
                            source=SOURCE_REPOSITORY.parent / "model_repository_gpu",
                            artifacts_map=GPU_ARTIFACTS)
    scorer = cpu / "risk_scorer"
    if not any(v.name.isdigit() and (v / "model.onnx").exists() for v in scorer.iterdir()):
        # before the compose mesh (and its MLflow) runs: no registry yet; a
        # training run against the compose MLflow adopts this version first
        subprocess.run([sys.executable, "-m", "mlmesh.cli.main", "train", "--workload", "400",
                        "--repository", str(cpu), "--no-registry"], check=True, cwd=root,
                       stdout=subprocess.DEVNULL)
    versions = sorted(v.name for v in scorer.iterdir() if v.name.isdigit())
    sys.stdout.write(f"compose model repository: {args.dest} "
                     f"(risk_scorer versions {', '.join(versions)})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
