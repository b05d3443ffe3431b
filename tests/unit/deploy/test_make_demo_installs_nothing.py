"""`make demo` (README command one) on a machine without Chromium, Docker or
Redis: nothing it runs installs a system package or starts an engine. Read from
make's own database (`make -pRrq :` evaluates every rule and runs none), over
every target `demo` depends on, and over the set-up driver it calls."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
VENV = ".venv"
SYSTEM = re.compile(r"apt-get|apt |\bdpkg\b|sudo|brew install|chromium|dockerd|docker |"
                    r"docker-compose|redis-server|setup-browser|setup-redis|setup-deploy")


def _database() -> tuple[dict[str, list[str]], dict[str, str]]:
    """(target -> prerequisites, target -> recipe); the set-up driver's steps
    (``SETUP_LINES``, "label=target") count as prerequisites of ``setup``."""
    out = subprocess.run(["make", "-pRrq", "-f", "Makefile", ":"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60).stdout
    deps: dict[str, list[str]] = {}
    recipes: dict[str, str] = {}
    target = ""
    lines = re.search(r"^SETUP_LINES := (.*)$", out, re.M)
    assert lines, "SETUP_LINES not in make's database"
    deps["setup"] = re.findall(r'=([^"=]+)"', lines.group(1))
    assert deps["setup"], lines.group(1)
    for line in out.splitlines():
        if line.startswith("\t") and target:
            recipes[target] = recipes.get(target, "") + line + "\n"
            continue
        m = re.match(r"^([^\s#:=][^:=]*?):(?!=)\s*(.*)$", line)
        if m and not line.startswith(("#", ".")):
            target = m.group(1).strip()
            deps[target] = deps.get(target, []) + m.group(2).split("|")[0].split()
        elif not line.strip():
            target = ""
    return deps, recipes


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_demo_runs_no_system_package_manager() -> None:
    deps, recipes = _database()
    assert "demo" in deps and "setup" in deps["demo"], deps.get("demo")
    seen: set[str] = set()
    todo = ["demo"]
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        todo.extend(deps.get(t, []))
    offenders = {t: recipes[t] for t in seen if t in recipes and SYSTEM.search(recipes[t])}
    assert not offenders, offenders
    # the set-up driver `make setup` runs: the steps it is given, and no installer
    driver = (ROOT / "tools" / "setup.sh").read_text()
    code = "\n".join(ln for ln in driver.splitlines() if not ln.lstrip().startswith(
        ("#", '"sudo', '"brew')))  # the hints it prints name installers; it runs none
    assert not re.search(r"^\s*(sudo|apt-get|brew)\b", code, re.M), "setup.sh installs"
    assert "tools/setup.sh" in recipes["setup"]
    assert f"{VENV}/.stamp" in seen and "models" in seen  # the closure reached the steps
    # and the targets that do install are not among them
    assert not {"setup-browser", "setup-redis", "setup-deploy", "setup-test"} & seen


def test_make_test_sets_up_what_only_tests_use() -> None:
    deps, _ = _database()
    assert "setup-test" in deps["test"]
    assert {"setup-browser", "setup-redis", "setup-deploy"} <= set(deps["setup-test"])
