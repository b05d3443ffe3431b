"""``mlmesh keys`` as a test runs it: the real CLI in a subprocess, against the
test broker and a key topic of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

from mlmesh.kafka.topics import TopicSpec, ensure_topics


def key_topic(bootstrap: str) -> str:
    topic = f"t.api-keys.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1, config={"cleanup.policy": "compact"})])
    return topic


def keys_cli(bootstrap: str, topic: str, *args: str) -> Any:
    """Run ``mlmesh keys ARGS --json``; its JSON output (or the process on failure)."""
    env = {**os.environ, "MLMESH_KAFKA_BOOTSTRAP": bootstrap, "MLMESH_KEYS_TOPIC": topic}
    proc = subprocess.run([sys.executable, "-m", "mlmesh.cli.main", "keys", *args, "--json"],
                          env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"mlmesh keys {' '.join(args)}: rc {proc.returncode}\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip().startswith(("{", "[")) else proc.stdout
