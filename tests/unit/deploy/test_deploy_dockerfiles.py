"""Dockerfile rules: pinned bases, multi-stage, non-root, HEALTHCHECK, real COPY
sources; plus hadolint when it is installed (`make setup-deploy`)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = sorted(
    [*ROOT.glob("services/*/Dockerfile"), *ROOT.glob("docker/*.Dockerfile")],
    key=lambda p: str(p),
)
SERVICES = ("ingest", "inference", "embedder", "features", "monitor")
PYTHON_BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")
# Images that may appear in FROM: exact tags only.
ALLOWED_BASES = (
    PYTHON_BASE,
    re.compile(r"^flink:2\.2\.1-scala_2\.12-java17$"),
    re.compile(r"^maven:3\.\d+\.\d+-eclipse-temurin-17$"),
    re.compile(r"^debian:\d+\.\d+-slim$"),
    re.compile(r"^nvcr\.io/nvidia/tritonserver:\d\d\.\d\d-py3$"),
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    args: dict[str, str] = {}  # global ARGs (before the first FROM): base images
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "ARG" and not stages:
            name, _, default = rest.strip().partition("=")
            args[name] = default
        elif op == "FROM":
            m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, f"{path}: bad FROM {rest!r}"
            base = re.sub(r"\$\{(\w+)\}", lambda v: args.get(v.group(1), v.group(0)), m.group(1))
            stages.append(Stage(base, m.group(2)))
        else:
            assert stages, f"{path}: instruction before FROM"
            stages[-1].instructions.append((op, rest.strip()))
    return stages


def final_stages(stages: list[Stage]) -> list[Stage]:
    """Stages nothing else builds FROM or copies --from: the images shipped."""
    used = {s.base for s in stages}
    for s in stages:
        for op, rest in s.instructions:
            m = re.search(r"--from=(\S+)", rest) if op == "COPY" else None
            if m:
                used.add(m.group(1))
    return [s for s in stages if s.name not in used]


def dockerignore_allows(rel: str) -> bool:
    allowed = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pat = raw.strip()
        if not pat or pat.startswith("#"):
            continue
        negate = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        if pat == "**" or fnmatch.fnmatch(rel, pat) or rel == pat or rel.startswith(pat + "/"):
            allowed = negate
    return allowed


def test_every_service_has_a_dockerfile() -> None:
    for svc in SERVICES:
        assert (ROOT / "services" / svc / "Dockerfile").is_file(), svc


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_bases_are_pinned_exact_tags(path: Path) -> None:
    names = {s.name for s in parse(path) if s.name}
    for stage in parse(path):
        if stage.base in names:
            continue
        assert any(rx.match(stage.base) for rx in ALLOWED_BASES), (
            f"{path}: base {stage.base!r} is not an allowed exact tag"
        )


@pytest.mark.parametrize(
    "path",
    [p for p in DOCKERFILES if p.parent.parent.name == "services"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_service_images_are_multi_stage_non_root_with_healthcheck(path: Path) -> None:
    stages = parse(path)
    assert len(stages) >= 2, f"{path}: not multi-stage"
    finals = final_stages(stages)
    assert finals, f"{path}: no final stage"
    for stage in finals:
        users = [rest for op, rest in stage.instructions if op == "USER"]
        assert users, f"{path} [{stage.name}]: no USER"
        user = users[-1].split(":")[0]
        assert user not in {"root", "0"}, f"{path} [{stage.name}]: runs as root"
        assert any(op == "HEALTHCHECK" for op, _ in stage.instructions), (
            f"{path} [{stage.name}]: no HEALTHCHECK"
        )
        assert any(op in {"ENTRYPOINT", "CMD"} for op, _ in stage.instructions) or (
            stage.base.startswith("flink:")
        ), f"{path} [{stage.name}]: no ENTRYPOINT/CMD"
        assert not any(
            op == "COPY" and "--from=" not in rest and " . " in f" {rest} "
            for op, rest in stage.instructions
        ), f"{path} [{stage.name}]: runtime stage copies the whole context"
    # python runtime stages install nothing with pip: the venv comes from a builder.
    for stage in finals:
        if PYTHON_BASE.match(stage.base):
            assert not any(op == "RUN" and "pip install" in rest for op, rest in stage.instructions)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_copy_sources_exist_and_reach_the_context(path: Path) -> None:
    for stage in parse(path):
        for op, rest in stage.instructions:
            if op not in {"COPY", "ADD"} or "--from=" in rest:
                continue
            args = [a for a in rest.split() if not a.startswith("--")]
            for src in args[:-1]:
                rel = src.rstrip("/")
                assert (ROOT / rel).exists(), f"{path}: COPY source {src} missing"
                assert dockerignore_allows(rel), f"{path}: {src} excluded by .dockerignore"


def hadolint() -> str | None:
    local = ROOT / ".mlmesh" / "tools" / "deploy-venv" / "bin" / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    exe = hadolint()
    if exe is None:
        pytest.skip("hadolint not installed: run `make setup-deploy`")
    out = subprocess.run(
        [exe, "--config", str(ROOT / "docker" / "hadolint.yaml"), *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _env(stage: Stage) -> dict[str, str]:
    pairs = [kv for op, rest in stage.instructions if op == "ENV" for kv in rest.split()]
    return dict(kv.split("=", 1) for kv in pairs if "=" in kv)


@pytest.mark.parametrize(
    "path",
    [p for p in DOCKERFILES if p.parent.parent.name == "services"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_service_images_listen_on_what_they_expose(path: Path) -> None:
    """A plain `docker run` of a service image answers its own HEALTHCHECK: the image
    sets every port it EXPOSEs, on all interfaces (the local defaults are loopback
    ports for one host, which a container must not inherit)."""
    for stage in final_stages(parse(path)):
        if not PYTHON_BASE.match(stage.base):
            continue  # the Flink image: ports are Flink's own configuration
        env = _env(stage)
        assert env.get("MLMESH_BIND_ALL") == "1", f"{path} [{stage.name}]: metrics on loopback"
        set_ports = {re.split(r"[:=]", v)[-1] for k, v in env.items() if k.startswith("MLMESH_")}
        exposed = {p for op, rest in stage.instructions if op == "EXPOSE" for p in rest.split()}
        assert exposed and exposed <= set_ports, (
            f"{path} [{stage.name}]: EXPOSE {sorted(exposed)}, set {sorted(set_ports)}")
        hosts = {v for k, v in env.items() if k.startswith("MLMESH_") and "127.0.0.1" in v}
        assert not hosts, f"{path} [{stage.name}]: binds loopback: {hosts}"
        check = next(rest for op, rest in stage.instructions if op == "HEALTHCHECK")
        port = re.search(r"127\.0\.0\.1:(\d+)", check)
        assert port and port.group(1) in exposed, f"{path} [{stage.name}]: {check}"
