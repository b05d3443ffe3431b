"""Wait until the compose mesh is up: every long-running container healthy (or
running, where its image has no healthcheck) and every one-shot exited 0.

    python tools/compose_wait.py [--project mlmesh] [--timeout 600]

docker-compose 1.x has no ``up --wait``; this is it, and it fails fast with the
container's log tail when one exits with an error or turns unhealthy for good.
Prints one line per container once it is ready, with the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def containers(project: str) -> list[dict[str, object]]:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter",
                          f"label=com.docker.compose.project={project}"],
                         check=True, capture_output=True, text=True).stdout.split()
    if not ids:
        return []
    out = subprocess.run(["docker", "inspect", *ids], check=True, capture_output=True,
                         text=True).stdout
    return list(json.loads(out))


def state_of(c: dict[str, object]) -> tuple[str, str]:
    """(service, ready | waiting | failed: why)."""
    labels = c["Config"]["Labels"]  # type: ignore[index]
    service = str(labels.get("com.docker.compose.service", c["Name"]))  # type: ignore[attr-defined]
    st = c["State"]  # type: ignore[index]
    restart = c["HostConfig"]["RestartPolicy"]["Name"]  # type: ignore[index]
    if st["Status"] == "exited":  # type: ignore[index]
        code = st["ExitCode"]  # type: ignore[index]
        if code == 0 and restart in ("", "no"):
            return service, "ready"
        return service, f"failed: exited {code}"
    health = st.get("Health")  # type: ignore[attr-defined]
    if health is None:
        return service, "ready" if st["Status"] == "running" else "waiting"  # type: ignore[index]
    status = health["Status"]
    if status == "healthy":
        return service, "ready"
    return service, "waiting" if status == "starting" else f"waiting: {status}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--project", default=os.environ.get("COMPOSE_PROJECT_NAME")
                   or re.sub(r"[^a-z0-9]", "", ROOT.name.lower()))
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args(argv)
    t0 = time.monotonic()
    ready: set[str] = set()
    last: dict[str, str] = {}
    while True:
        found = containers(args.project)
        if not found:
            sys.stderr.write(f"compose: no containers of project {args.project!r}" + "\n")
            return 1
        for c in found:
            service, state = state_of(c)
            last[service] = state
            if state == "ready" and service not in ready:
                ready.add(service)
                sys.stdout.write(f"{time.monotonic() - t0:6.1f}s  {service} ready" + "\n")
            if state.startswith("failed"):
                name = str(c["Name"]).lstrip("/")
                logs = subprocess.run(["docker", "logs", "--tail", "30", name],
                                      capture_output=True, text=True)
                sys.stderr.write(f"compose: {service} {state}\n{logs.stdout}{logs.stderr}" + "\n")
                return 1
        if len(ready) == len(last) and all(s == "ready" for s in last.values()):
            took = time.monotonic() - t0
            sys.stdout.write(f"compose: {len(ready)} containers ready in {took:.0f}s\n")
            return 0
        if time.monotonic() - t0 > args.timeout:
            waiting = {s: st for s, st in last.items() if st != "ready"}
            sys.stderr.write(f"compose: not ready after {args.timeout:.0f}s: {waiting}" + "\n")
            return 1
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
