"""The Strimzi KafkaTopic files are in sync with deploy/topics.yaml."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
GEN = ROOT / "deploy" / "k8s" / "gen_topics.py"


def test_generated_topics_are_current() -> None:
    out = subprocess.run(
        [sys.executable, str(GEN), "--check"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr


def test_k8s_names_are_dns_1123_and_distinct() -> None:
    import yaml

    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/base/kafka/topics.yaml").read_text()))
    names = [d["metadata"]["name"] for d in docs]
    assert len(names) == len(set(names))
    for n in names:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n) and len(n) <= 63, n
