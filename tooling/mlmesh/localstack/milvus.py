"""A real Milvus server as a local process: milvus-lite 2.4.12's C++ binary in
server mode, serving many client processes over gRPC on 127.0.0.1.

``milvus_lite.server.Server`` is an internal class; this module is the only
place that touches it. It runs as ``python -m mlmesh.localstack.milvus serve
--db <file> --port <port>``, which blocks until SIGTERM/SIGINT and then stops the
milvus binary (in address mode milvus-lite does not stop it on its own).

Limits of milvus-lite 2.4 (field notes): indexes FLAT, IVF_FLAT, AUTOINDEX; no
filtering on a partition-key field (keep ``user_id`` a plain scalar field); one
server process per data directory.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from mlmesh.common import ports
from mlmesh.localstack.base import LocalServer, port_open
from mlmesh.localstack.service import source_pythonpath

REPO_ROOT = Path(__file__).resolve().parents[3]
DB_NAME = "mlmesh.db"
log = logging.getLogger("mlmesh.localstack.milvus")


def probe(uri: str, timeout: float = 3.0) -> list[str]:
    """The collection names, or an exception if the server does not answer."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, timeout=timeout)
    try:
        return list(client.list_collections())
    finally:
        client.close()


class MilvusComponent(LocalServer):
    what = "milvus"
    poll_interval = 0.3

    def __init__(self, state_dir: Path | str, port: int = ports.MILVUS, name: str = "milvus",
                 python: str | None = None) -> None:
        super().__init__(state_dir, name, port)
        self.python = python or sys.executable
        self.data_dir = self.state_dir / "milvus" / name
        self.db_path = self.data_dir / DB_NAME

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def addresses(self) -> dict[str, str]:
        return {"uri": self.uri}

    def healthy(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            probe(self.uri, timeout=2.0)
            return True
        except Exception:
            return False

    def prepare(self) -> tuple[dict[str, str] | None, Path | None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = source_pythonpath(env.get("PYTHONPATH"))
        return env, self.data_dir

    def command(self) -> list[str]:
        return [self.python, "-m", "mlmesh.localstack.milvus", "serve",
                "--db", str(self.db_path), "--port", str(self.port)]


def serve(db: Path, port: int) -> int:
    """Run milvus-lite's server on 127.0.0.1:``port`` until SIGTERM/SIGINT."""
    from milvus_lite.server import Server

    db.parent.mkdir(parents=True, exist_ok=True)
    server = Server(str(db), address=f"127.0.0.1:{port}")
    if not server.init() or not server.start():
        log.error("milvus-lite failed to start on port %d (db %s)", port, db)
        return 1
    child: subprocess.Popen[bytes] | None = server._p  # internal: the milvus binary
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("milvus-lite serving %s on 127.0.0.1:%d", db, port)
    code = 0
    while not stop.wait(0.5):
        if child is not None and child.poll() is not None:
            log.error("milvus binary exited with %s", child.returncode)
            code = child.returncode or 1
            break
    if child is not None and child.poll() is None:
        child.terminate()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    server.stop()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlmesh.localstack.milvus")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run milvus-lite in server mode until SIGTERM")
    s.add_argument("--db", type=Path, required=True)
    s.add_argument("--port", type=int, default=ports.MILVUS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format='{"ts":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}')
    return serve(args.db, args.port)


if __name__ == "__main__":
    sys.exit(main())
