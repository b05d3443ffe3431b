"""Publish a trained model as a new version of ``risk_scorer`` in a Triton
model repository: ``<repo>/risk_scorer/<v>/{model.onnx, model.py, model_card.json}``
(model.py is the Triton helper's generic ONNX Runtime template), then ask a
running Triton (explicit model control) to reload so the version goes live next
to the ones already loaded."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from inference.contract import SCORER_MODEL

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE = REPO_ROOT / "deploy" / "triton" / "model_repository" / SCORER_MODEL
TEMPLATE = "model_template.py"


def code_revision() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""

    head = git("rev-parse", "HEAD") or "uncommitted"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return f"{head}{'-dirty' if dirty else ''}"


def versions(repository: Path, model: str = SCORER_MODEL) -> list[int]:
    root = repository / model
    if not root.exists():
        return []
    return sorted(int(p.name) for p in root.iterdir()
                  if p.is_dir() and p.name.isdigit() and (p / "model.onnx").exists())


def publish(repository: Path, onnx: bytes, card: dict[str, Any], version: int | None = None,
            model: str = SCORER_MODEL) -> Path:
    root = repository / model
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "config.pbtxt").exists():
        shutil.copy2(SOURCE / "config.pbtxt", root / "config.pbtxt")
    shutil.copy2(SOURCE / TEMPLATE, root / TEMPLATE)
    number = version if version is not None else (max(versions(repository, model),
                                                      default=0) + 1)
    vdir = root / str(number)
    if (vdir / "model.onnx").exists():
        raise FileExistsError(f"{vdir} already holds a model; versions are immutable")
    vdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SOURCE / TEMPLATE, vdir / "model.py")
    (vdir / "model_card.json").write_text(json.dumps({**card, "version": str(number)},
                                                     indent=2, sort_keys=True))
    tmp = vdir / ".model.onnx.tmp"
    tmp.write_bytes(onnx)
    tmp.replace(vdir / "model.onnx")  # last: a version is complete once model.onnx exists
    return vdir


def load_on_triton(http_url: str, model: str = SCORER_MODEL, timeout: float = 120.0) -> None:
    """POST /v2/repository/models/<model>/load: picks up new version dirs."""
    req = urllib.request.Request(f"{http_url.rstrip('/')}/v2/repository/models/{model}/load",
                                 data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if resp.status != 200:
                raise RuntimeError(f"triton load {model}: HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"triton load {model}: HTTP {exc.code}: "
                           f"{exc.read().decode(errors='replace')}") from exc
