"""A real single-node Apache Kafka 4.1 (KRaft) broker as a local process.

Layout under ``<state_dir>``: ``<name>/server.properties``, ``data/<name>`` (the
log dir, formatted once and reused on restart), ``<name>/cluster_id``,
``logs/<name>.log`` and ``run/<name>.json``. Jars come from Maven Central via
``deploy/local/kafka/pom.xml`` into ``.mlmesh/jars/kafka`` (``ensure_kafka_jars``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import string
import subprocess
import time
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from mlmesh.common import ports
from mlmesh.localstack.base import (
    ComponentStatus,
    ProcessRecord,
    kill_recorded,
    live_record,
    port_open,
    recorded_status,
    spawn,
    stop_recorded,
    wait_healthy,
)
from mlmesh.localstack.paths import jars_root, repo_root

log = logging.getLogger(__name__)

KAFKA_DEPLOY_DIR = Path("deploy/local/kafka")
STAMP = ".stamp"


def _deploy_dir() -> Path:
    return repo_root() / KAFKA_DEPLOY_DIR


def java_bin() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("java not found: install a JDK 17+ "
                           "(apt-get install openjdk-17-jre-headless)")
    return found


def jars_ready(jars_dir: Path, pom: Path) -> bool:
    stamp = jars_dir / STAMP
    return (stamp.exists() and stamp.stat().st_mtime >= pom.stat().st_mtime
            and any(jars_dir.glob("kafka_2.13-*.jar")))


def ensure_kafka_jars(jars_dir: Path | None = None, perf: bool = False) -> Path:
    """Return the broker's jar dir, running Maven first if it is missing or older
    than the pom. ``perf=True``: the closure of kafka-tools too (perf tools), in
    ``kafka-perf``. Same layout and stamp as ``make setup-kafka``."""
    pom = _deploy_dir() / "pom.xml"
    jars_dir = (jars_dir or jars_root() / ("kafka-perf" if perf else "kafka")).resolve()
    if jars_ready(jars_dir, pom):
        return jars_dir
    jars_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(jars_dir.parent / f".{jars_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one download at a time (parallel tests, make)
        if jars_ready(jars_dir, pom):
            return jars_dir
        mvn = shutil.which("mvn")
        if not mvn:
            raise RuntimeError("mvn not found: install Maven (apt-get install maven)")
        tmp = jars_dir.with_name(jars_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
               "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
        if perf:
            cmd.insert(3, "-Pperf")
        t0 = time.monotonic()
        log.info("fetching kafka jars", extra={"cmd": " ".join(cmd)})
        subprocess.run(cmd, check=True)
        shutil.rmtree(jars_dir, ignore_errors=True)
        tmp.rename(jars_dir)
        (jars_dir / STAMP).touch()
        log.info("kafka jars fetched", extra={"seconds": round(time.monotonic() - t0, 1)})
    return jars_dir


class KafkaComponent:
    """One KRaft broker+controller on 127.0.0.1 (Component protocol)."""

    def __init__(self, state_dir: Path, port: int = ports.KAFKA,
                 controller_port: int = ports.KAFKA_CONTROLLER,
                 heap: str = "400m", name: str = "kafka", jars_dir: Path | None = None,
                 extra_properties: dict[str, str] | None = None,
                 format_args: tuple[str, ...] = ()) -> None:
        """``format_args``: extra ``StorageTool format`` arguments (e.g.
        ``--add-scram`` credentials, applied when the log dir is first made)."""
        self.name = name
        self.format_args = format_args
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self._jars_dir = jars_dir
        self.extra_properties = dict(extra_properties or {})
        self.home = self.state_dir / name
        # under data/ so that `make clean` (rm -rf STATE/data) resets the broker
        self.data_dir = self.state_dir / "data" / name
        self.properties_path = self.home / "server.properties"
        self.log_path = self.state_dir / "logs" / f"{name}.log"
        self.run_dir = self.state_dir / "run"
        self._proc: subprocess.Popen[bytes] | None = None
        self.last_format_seconds: float | None = None
        self.last_start_seconds: float | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def addresses(self) -> dict[str, str]:
        return {"bootstrap": self.bootstrap, "controller": f"127.0.0.1:{self.controller_port}"}

    # ---- configuration -------------------------------------------------------
    def render_properties(self) -> str:
        template = string.Template((_deploy_dir() / "server.properties.template").read_text())
        text = template.substitute(
            port=self.port, controller_port=self.controller_port, data_dir=self.data_dir,
            offsets_partitions=10, txn_partitions=10, dedupe_buffer=8 * 1024 * 1024,
        )
        if self.extra_properties:
            text += "\n# extra\n" + "".join(f"{k}={v}\n" for k, v in self.extra_properties.items())
        return text

    def _java(self, main: str, *args: str, heap: str = "256m",
              jvm: tuple[str, ...] = ()) -> list[str]:
        jars = ensure_kafka_jars(self._jars_dir)
        log4j = _deploy_dir() / "log4j2.xml"
        return [java_bin(), f"-Xmx{heap}", *jvm, "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{jars}/*", main, *args]

    def _format_once(self) -> None:
        """``StorageTool format`` on first start only; restarts reuse the data."""
        if (self.data_dir / "meta.properties").exists():
            return
        t0 = time.monotonic()
        cid_path = self.home / "cluster_id"
        if not cid_path.exists():
            out = subprocess.run(self._java("kafka.tools.StorageTool", "random-uuid"),
                                 check=True, capture_output=True, text=True).stdout
            cluster_id = out.strip().splitlines()[-1].strip()
            cid_path.write_text(cluster_id + "\n")
        cluster_id = cid_path.read_text().strip()
        res = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.properties_path), *self.format_args),
            capture_output=True, text=True,
        )
        if res.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{res.stdout}\n{res.stderr}")
        self.last_format_seconds = time.monotonic() - t0

    # ---- lifecycle -----------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        t0 = time.monotonic()
        self.launch()
        self.wait_ready(timeout)
        self.last_start_seconds = time.monotonic() - t0
        log.info("kafka ready", extra={"bootstrap": self.bootstrap,
                                       "seconds": round(self.last_start_seconds, 2)})

    def launch(self) -> int:
        """Format (first start only) and spawn the broker without waiting for it:
        the nodes of a cluster start together, since none answers before a
        quorum of controllers does. Returns the pid (an already running one's)."""
        rec = live_record(self.run_dir, self.name)
        if rec is not None:
            return rec.pid
        for p in (self.port, self.controller_port):
            if port_open(p):
                raise RuntimeError(f"{self.name}: port {p} is already in use by another process")
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text(self.render_properties())
        self._format_once()
        cmd = self._java("kafka.Kafka", str(self.properties_path), heap=self.heap,
                         jvm=("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                              "-XX:+ExitOnOutOfMemoryError"))
        self._proc = spawn(cmd, self.log_path, cwd=self.home)
        ProcessRecord(self.name, self._proc.pid, self.addresses, str(self.log_path),
                      time.time()).save(self.run_dir)
        return self._proc.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        rec = live_record(self.run_dir, self.name)
        if rec is None:
            raise RuntimeError(f"{self.name} is not running (see {self.log_path})")
        spawned_here = self._proc is not None and self._proc.pid == rec.pid
        wait_healthy(rec.pid, self.healthy, timeout, self.name, self.log_path, proc=self._proc,
                     on_failure=(lambda: self.stop(timeout=10)) if spawned_here else None,
                     interval=0.2)

    def healthy(self, timeout: float = 2.0) -> bool:
        """An ApiVersions + Metadata round trip answering with this broker."""
        if not port_open(self.port):
            return False
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "log_level": 0,
                                "error_cb": lambda _err: None}
        admin = AdminClient(conf)
        try:
            md = admin.list_topics(timeout=timeout)
        except Exception:  # any failure means "not healthy yet"
            return False
        return len(md.brokers) > 0

    def stop(self, timeout: float = 30.0) -> None:
        stop_recorded(self.run_dir, self.name, self._proc, timeout)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker (no clean shutdown), for crash tests."""
        kill_recorded(self.run_dir, self.name, self._proc)
        self._proc = None

    def restart(self, timeout: float = 120.0) -> None:
        self.stop()
        self.start(timeout)

    def status(self) -> ComponentStatus:
        return recorded_status(self.name, self.run_dir, self.addresses, self.healthy,
                               "starting or unresponsive", ok="ready")
