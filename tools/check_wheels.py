"""Each service's wheel set, installed alone, imports and starts.

What a service image installs is three wheels: ``mlmesh-runtime`` (lib/),
``mlmesh-protos`` (gen/python) and ``mlmesh-services`` (services/), never the
tooling (the root distribution ``mlmesh``: CLI, launchers, chaos, demo, test
helpers). This builds those three wheels, installs them with ``--no-deps``
into a fresh virtual environment whose only other packages are the
third-party ones of ``.venv`` (a path entry, so none of the checkout's
editable installs come along), then for each service:

* imports every module of its package, and fails if a tooling module
  (``mlmesh.cli``, ``mlmesh.localstack``, ...) was imported on the way;
* starts ``python -m <service>`` against a throw-away local Kafka broker
  with the mesh's topics (the tooling starts it; Triton and Milvus are
  absent, so services that use them start degraded), sends SIGTERM once it
  has run for a few seconds, and fails unless it exits on its own, with
  status 0 (stop consuming, close) and no traceback.

A packaging break (a module left out of a wheel, a service importing the
tooling) shows up here without Docker. ``make check-wheels`` (in ``make
check``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ingest", "features", "embedder", "inference", "monitor")
# the feature writer is the features package's process; the Flink job runs in .venv-flink
MODULES = {"features": "features.writer"}
TOOLING = ("mlmesh.cli", "mlmesh.localstack", "mlmesh.chaos", "mlmesh.testing",
           "mlmesh.workload", "mlmesh.demo", "mlmesh.demo_calls", "mlmesh.demo_fresh",
           "mlmesh.monitoring_client", "mlmesh.client_settings")
IMPORT_ALL = """
import importlib, pkgutil, sys
pkg = importlib.import_module(sys.argv[1])
skip = {sys.argv[1] + ".job", sys.argv[1] + ".feature_repo"}  # Flink job / Feast repo files
bad = []
for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    if m.name.endswith(".__main__") or any(m.name.startswith(s) for s in skip):
        continue
    try:
        importlib.import_module(m.name)
    except Exception as exc:
        bad.append(f"{m.name}: {exc!r}")
tooling = sorted(n for n in sys.modules if n.startswith(tuple(sys.argv[2].split(","))))
print("modules", len([n for n in sys.modules if n.startswith(pkg.__name__)]))
if bad or tooling:
    sys.exit("import failures: %s; tooling imported: %s" % (bad, tooling))
"""


def run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def build(out: Path) -> list[Path]:
    """The three wheels, built from a copy of their sources (setuptools
    builds in the source tree; the checkout stays as it is)."""
    wheels, src = out / "wheels", out / "src"
    skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so", "*.pyc")
    for part in ("lib", "gen/python", "services"):
        shutil.copytree(ROOT / part, src / part, ignore=skip)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(src / "lib"), str(src / "gen" / "python"),
         str(src / "services")], env={**os.environ, "PYTHONWARNINGS": "ignore"})
    found = sorted(wheels.glob("*.whl"))
    names = {w.name.split("-")[0] for w in found}
    assert names == {"mlmesh_runtime", "mlmesh_protos", "mlmesh_services"}, names
    return found


def venv(out: Path, wheels: list[Path]) -> Path:
    env_dir = out / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # the third-party packages of .venv, as a plain path entry: its .pth files
    # (the checkout's editable installs) are not processed from there
    Path(site, "thirdparty.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", site, *map(str, wheels)])
    return py


def start_and_stop(py: Path, module: str, workdir: Path, bootstrap: str) -> str:
    """Start ``python -m module`` against the broker (its other dependencies,
    Triton, Milvus, are absent: it starts degraded), SIGTERM it after 8 s; ''
    when it stopped cleanly, else why not."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"MLMESH_KAFKA_BOOTSTRAP": bootstrap, "MLMESH_STATE_DIR": str(workdir),
                "MLMESH_LOG_JSON": "1", "HOME": str(workdir)})
    proc = subprocess.Popen([str(py), "-m", module], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(8)
    if proc.poll() is not None:
        out = proc.stdout.read() if proc.stdout else ""
        return f"exited by itself ({proc.returncode}) before SIGTERM:\n{out[-3000:]}"
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return f"still running 60 s after SIGTERM:\n{out[-3000:]}"
    if proc.returncode != 0 or "Traceback" in out:
        return f"exit status {proc.returncode} after SIGTERM:\n{out[-3000:]}"
    return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", default=",".join(SERVICES))
    args = ap.parse_args()
    sys.path[:0] = [str(ROOT / "lib"), str(ROOT / "tooling"), str(ROOT / "gen" / "python")]
    from mlmesh.kafka.topics import ensure_topics, load_topics
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.kafka import KafkaComponent

    with tempfile.TemporaryDirectory(prefix="mlmesh-wheels-") as tmp:
        out = Path(tmp)
        py = venv(out, build(out))
        kafka = KafkaComponent(out / "kafka", port=free_port(), controller_port=free_port(),
                               heap="512m")
        kafka.start(timeout=180)
        try:
            ensure_topics(kafka.bootstrap, load_topics())
            return _each(py, out, args.services.split(","), kafka.bootstrap)
        finally:
            kafka.stop()


def _each(py: Path, out: Path, services: list[str], bootstrap: str) -> int:
    failures = []
    for svc in services:
        res = subprocess.run([str(py), "-c", IMPORT_ALL, svc, ",".join(TOOLING)],
                             capture_output=True, text=True, cwd=out,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        if res.returncode != 0:
            failures.append(f"{svc}: {res.stderr.strip()[-3000:]}")
            continue
        work = out / f"run-{svc}"
        work.mkdir()
        why = start_and_stop(py, MODULES.get(svc, svc), work, bootstrap)
        if why:
            failures.append(f"{svc}: {why}")
        else:
            sys.stdout.write(f"{svc}: {res.stdout.strip()}, started and stopped on SIGTERM\n")
    for f in failures:
        sys.stderr.write(f"FAIL {f}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
