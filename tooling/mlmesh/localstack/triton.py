"""A real Triton Inference Server as a local process.

The ``tritonserver`` 2.51 binary and the python backend come from the
nvidia-pytriton 0.7.0 wheel in ``.venv-triton`` (its own venv: numpy < 2); model
code runs ONNX Runtime from that venv. Pitfalls handled here:

* the python-backend stub loads the interpreter's libpython: ``LD_LIBRARY_PATH``
  holds that interpreter's ``LIBDIR`` plus the wheel's ``nvidia_pytriton.libs``;
* the stub finds packages through ``python3`` on ``PATH`` -> .venv-triton/bin first,
  and ``PYTHONPATH`` is removed so .venv's numpy 2 never leaks in;
* HTTP, gRPC and metrics bind 127.0.0.1; temp files go under the state dir;
* a unique shared-memory prefix per server, so parallel servers never collide.

The runtime model repository ``<state>/triton/model_repository`` is assembled from
the committed ``deploy/triton/model_repository`` plus the built artifacts of
``make models``; versions added at runtime (``publish_onnx_version``) are kept.
Model control is explicit: ``load_model`` (re)loads a model and picks up new
version directories without a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from mlmesh.common import ports
from mlmesh.localstack.base import LocalServer

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE_REPOSITORY = REPO_ROOT / "deploy" / "triton" / "model_repository"
GPU_REPOSITORY = REPO_ROOT / "deploy" / "triton" / "model_repository_gpu"
EMBEDDING_MODEL = "minilm_embedding"
# Built files (from <state>/models/<dir>) copied into every version dir of a model.
ARTIFACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    EMBEDDING_MODEL: ("minilm", ("model.onnx", "tokenizer.json")),
}
# A version served from another built file: (model, version) -> {name: built name}.
# Version 2 of the embedding model is the INT8 copy of version 1's graph.
VERSION_FILES: dict[tuple[str, str], dict[str, str]] = {
    (EMBEDDING_MODEL, "2"): {"model.onnx": "model_int8.onnx"},
}
GPU_ARTIFACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "minilm_onnx": ("minilm", ("model.onnx",)),
    "minilm_tokenizer": ("minilm", ("tokenizer.json",)),
}
TEMPLATES = {"risk_scorer": "model_template.py", EMBEDDING_MODEL: "model_template.py"}


def models_root() -> Path:
    """Built model artifacts (``make models``): ``$MLMESH_MODELS_DIR`` or
    ``<repo>/.mlmesh/models``; not below the state dir, so a throw-away state dir
    (tests) reuses them."""
    env = os.environ.get("MLMESH_MODELS_DIR")
    return Path(env).resolve() if env else REPO_ROOT / ".mlmesh" / "models"


class TritonError(RuntimeError):
    """The server refused a repository or inference request."""


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size and \
            dst.stat().st_mtime >= src.stat().st_mtime:
        return
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    tmp.replace(dst)


def assemble_repository(dest: Path, models_dir: Path, source: Path = SOURCE_REPOSITORY,
                        artifacts_map: dict[str, tuple[str, tuple[str, ...]]] | None = None,
                        ) -> Path:
    """Refresh ``dest`` from the committed repository plus built artifacts;
    version directories already in ``dest`` (published at runtime) are kept."""
    dest.mkdir(parents=True, exist_ok=True)
    for model_src in sorted(p for p in source.iterdir() if p.is_dir()):
        model_dst = dest / model_src.name
        model_dst.mkdir(exist_ok=True)
        for item in model_src.iterdir():
            if item.is_file():
                shutil.copy2(item, model_dst / item.name)
            elif item.is_dir() and item.name.isdigit():
                (model_dst / item.name).mkdir(exist_ok=True)
                for f in item.iterdir():
                    if f.is_file() and not f.name.startswith("."):
                        shutil.copy2(f, model_dst / item.name / f.name)
        template = TEMPLATES.get(model_src.name)
        artifacts = (ARTIFACTS if artifacts_map is None else artifacts_map).get(model_src.name)
        for version in (v for v in model_dst.iterdir() if v.is_dir() and v.name.isdigit()):
            if template and (model_src / template).exists():  # not the GPU ensemble
                shutil.copy2(model_src / template, version / "model.py")
            if artifacts:
                subdir, names = artifacts
                renames = VERSION_FILES.get((model_src.name, version.name), {})
                for name in names:
                    built = models_dir / subdir / renames.get(name, name)
                    if not built.exists():
                        raise FileNotFoundError(f"{built} missing: run `make models` first")
                    _link_or_copy(built, version / name)
    return dest


def _venv_info(venv: Path) -> dict[str, str]:
    code = ("import json,sys,sysconfig;print(json.dumps({'libdir':sysconfig.get_config_var("
            "'LIBDIR'),'purelib':sysconfig.get_paths()['purelib'],"
            "'version':f'{sys.version_info[0]}.{sys.version_info[1]}'}))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True,
                         capture_output=True, text=True, timeout=60)
    info: dict[str, str] = json.loads(out.stdout)
    return info


class TritonComponent(LocalServer):
    """``tritonserver`` with the python backend, explicit model control."""

    what = "tritonserver"
    unhealthy = "not ready"

    def __init__(self, state_dir: Path | str, http_port: int = ports.TRITON_HTTP,
                 grpc_port: int = ports.TRITON_GRPC, metrics_port: int = ports.TRITON_METRICS,
                 models: tuple[str, ...] = (EMBEDDING_MODEL,),
                 venv: Path | str | None = None, name: str = "triton",
                 models_dir: Path | str | None = None) -> None:
        super().__init__(state_dir, name, grpc_port)
        self.http_port, self.grpc_port, self.metrics_port = http_port, grpc_port, metrics_port
        self.models = models
        self.venv = Path(venv) if venv else Path(
            os.environ.get("MLMESH_TRITON_VENV") or REPO_ROOT / ".venv-triton")
        self.models_dir = Path(models_dir) if models_dir else models_root()
        self.home = self.state_dir / "triton"
        self.model_repository = self.home / "model_repository"
        self._cmd: list[str] = []

    # -- addresses -------------------------------------------------------
    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def addresses(self) -> dict[str, str]:
        return {"grpc": self.grpc_url, "http": self.http_url,
                "metrics": f"http://127.0.0.1:{self.metrics_port}/metrics"}

    # -- HTTP v2 API (stdlib only, so any venv can drive the launcher) ----
    def _request(self, method: str, path: str, body: dict[str, object] | None = None,
                 timeout: float = 5.0) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.http_url}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return int(resp.status), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode(errors="replace")

    def server_ready(self) -> bool:
        try:
            return self._request("GET", "/v2/health/ready", timeout=2.0)[0] == 200
        except OSError:
            return False

    def model_ready(self, model: str, version: str = "") -> bool:
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/ready"
        try:
            return self._request("GET", path, timeout=2.0)[0] == 200
        except OSError:
            return False

    def load_model(self, model: str, timeout: float = 120.0) -> None:
        """(Re)load ``model`` from the repository: new version dirs become live."""
        code, text = self._request("POST", f"/v2/repository/models/{model}/load", body={},
                                   timeout=timeout)
        if code != 200:
            raise TritonError(f"load {model}: HTTP {code}: {text}")

    def unload_model(self, model: str, timeout: float = 60.0) -> None:
        code, text = self._request("POST", f"/v2/repository/models/{model}/unload", body={},
                                   timeout=timeout)
        if code != 200:
            raise TritonError(f"unload {model}: HTTP {code}: {text}")

    def repository_index(self) -> list[dict[str, str]]:
        code, text = self._request("POST", "/v2/repository/index", body={})
        if code != 200:
            raise TritonError(f"repository index: HTTP {code}: {text}")
        index: list[dict[str, str]] = json.loads(text)
        return index

    def publish_onnx_version(self, model: str, version: int, onnx_path: Path | str,
                             load: bool = True) -> Path:
        """Put ``onnx_path`` in as ``<model>/<version>/model.onnx`` (with the model's
        template as model.py) and, if the server runs, reload so it goes live
        alongside the versions already loaded."""
        template = TEMPLATES.get(model)
        if template is None:
            raise ValueError(f"{model} has no template; known: {sorted(TEMPLATES)}")
        assemble_repository(self.model_repository, self.models_dir)
        vdir = self.model_repository / model / str(int(version))
        vdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SOURCE_REPOSITORY / model / template, vdir / "model.py")
        subdir, names = ARTIFACTS.get(model, ("", ()))
        for name in names:  # e.g. the embedding model's tokenizer
            if name != "model.onnx":
                _link_or_copy(self.models_dir / subdir / name, vdir / name)
        shutil.copy2(onnx_path, vdir / ".model.onnx.tmp")
        (vdir / ".model.onnx.tmp").replace(vdir / "model.onnx")
        if load and self.server_ready():
            self.load_model(model)
        return vdir

    # -- lifecycle -------------------------------------------------------
    def _backend_dir(self, info: dict[str, str]) -> Path:
        dist = Path(info["purelib"]) / "pytriton" / "tritonserver"
        backends = self.home / "backends"
        py = backends / "python"
        py.mkdir(parents=True, exist_ok=True)
        for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
            _link_or_copy(dist / "backends" / "python" / name, py / name)
        stub = dist / "python_backend_stubs" / info["version"] / "triton_python_backend_stub"
        _link_or_copy(stub, py / "triton_python_backend_stub")
        return backends

    def ports(self) -> tuple[int, ...]:
        return (self.http_port, self.grpc_port, self.metrics_port)

    def prepare(self) -> tuple[dict[str, str] | None, Path | None]:
        if not (self.venv / "bin" / "python").exists():
            raise FileNotFoundError(f"{self.venv} missing: build .venv-triton (make setup)")
        assemble_repository(self.model_repository, self.models_dir)
        self._cmd, env = self._command(_venv_info(self.venv))
        return env, self.home

    def command(self) -> list[str]:
        return self._cmd

    def _command(self, info: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        dist = Path(info["purelib"]) / "pytriton" / "tritonserver"
        load = [m for m in self.models if self._has_versions(m)]
        cmd = [
            str(dist / "bin" / "tritonserver"),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={self._backend_dir(info)}",
            f"--cache-directory={dist / 'caches'}",
            "--model-control-mode=explicit",
            *[f"--load-model={m}" for m in load],
            "--http-address=127.0.0.1", f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
            "--allow-metrics=true", "--allow-gpu-metrics=false",
            "--metrics-address=127.0.0.1", f"--metrics-port={self.metrics_port}",
            f"--backend-config=python,shm-region-prefix-name=mlmesh{self.grpc_port}_",
            "--backend-config=python,shm-default-byte-size=4194304",
            "--exit-timeout-secs=10", "--log-verbose=0",
        ]
        tmp = self.home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
        libs = [info["libdir"], str(Path(info["purelib"]) / "nvidia_pytriton.libs")]
        if env.get("LD_LIBRARY_PATH"):
            libs.append(env["LD_LIBRARY_PATH"])
        env.update({
            "LD_LIBRARY_PATH": ":".join(libs),
            "PATH": f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "VIRTUAL_ENV": str(self.venv), "PYTRITON_HOME": str(tmp), "TMPDIR": str(tmp),
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "2"),
        })
        return cmd, env

    def _has_versions(self, model: str) -> bool:
        mdir = self.model_repository / model
        return mdir.is_dir() and any(v.is_dir() and v.name.isdigit() for v in mdir.iterdir())

    def healthy(self) -> bool:
        """Server ready and every configured model that has versions ready."""
        return self.server_ready() and all(
            self.model_ready(m) for m in self.models if self._has_versions(m))

    def start(self, timeout: float = 120.0) -> None:
        super().start(timeout)


def main(argv: list[str] | None = None) -> int:
    """``python -m mlmesh.localstack.triton assemble [--gpu] --out DIR``: a
    self-contained model repository (e.g. to mount into an NGC Triton image)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlmesh.localstack.triton")
    sub = parser.add_subparsers(dest="cmd", required=True)
    asm = sub.add_parser("assemble", help="committed repository + built artifacts -> DIR")
    asm.add_argument("--out", type=Path, required=True)
    asm.add_argument("--models", type=Path, default=None, help="default: models_root()")
    asm.add_argument("--gpu", action="store_true", help="the onnxruntime/TensorRT variant")
    args = parser.parse_args(argv)
    source = GPU_REPOSITORY if args.gpu else SOURCE_REPOSITORY
    out = assemble_repository(args.out, args.models or models_root(), source,
                              GPU_ARTIFACTS if args.gpu else ARTIFACTS)
    if args.gpu:  # real copies: the repository is meant to be moved to another machine
        for f in out.rglob("model.onnx"):
            data = f.read_bytes()
            f.unlink()
            f.write_bytes(data)
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
