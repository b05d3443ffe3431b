"""Fixtures for the deployment checks: rendered overlays and the declared topics.

Rendering uses `kubectl kustomize` (kubectl ships kustomize) or a standalone
`kustomize`; `make setup-deploy` installs what is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")


def kustomize_cmd() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


@cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    cmd = kustomize_cmd()
    if cmd is None:
        pytest.skip("neither kubectl nor kustomize on PATH: run `make setup-deploy`")
    out = subprocess.run([*cmd, str(K8S / path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"kustomize {path} failed:\n{out.stderr}"
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def topics_yaml() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "topics.yaml").read_text())
    return doc


@pytest.fixture
def kustomize_render() -> Callable[[str], tuple[dict[str, Any], ...]]:
    """render(path under deploy/k8s) -> the objects it renders to."""
    return render


@pytest.fixture
def declared_topics() -> dict[str, Any]:
    return topics_yaml()


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return render(f"overlays/{overlay}")
