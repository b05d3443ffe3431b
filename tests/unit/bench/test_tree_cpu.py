"""bench.common.tree_cpu_seconds (read from /proc, no psutil: .venv-flink runs
it) counts a process and its descendants, and nothing outside that tree."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from bench.common import tree_cpu_seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# spins for argv[1] CPU seconds in a grandchild, says so, then waits until stdin closes
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(child.stdout.readline().strip(), flush=True)
sys.stdin.read()
child.stdin.close()
child.wait()
"""
SPIN = """
import sys, time
end = time.process_time() + float(sys.argv[1])
while time.process_time() < end:
    pass
print("spun", flush=True)
sys.stdin.read()
"""


def test_counts_descendants_as_psutil_does() -> None:
    proc = subprocess.Popen([sys.executable, "-c", PARENT, "0.6", SPIN], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "spun"
        ours = tree_cpu_seconds(proc.pid)
        root = psutil.Process(proc.pid)
        theirs = sum(p.cpu_times().user + p.cpu_times().system
                     for p in (root, *root.children(recursive=True)))
        assert ours >= 0.6  # the grandchild's spin is in the tree
        assert abs(ours - theirs) < 0.05
        # a subtree holds only itself: the grandchild's tree leaves its parent out
        (grandchild,) = root.children()
        own = grandchild.cpu_times().user + grandchild.cpu_times().system
        assert abs(tree_cpu_seconds(grandchild.pid) - own) < 0.02
        parent = root.cpu_times().user + root.cpu_times().system
        assert abs(ours - tree_cpu_seconds(grandchild.pid) - parent) < 0.05
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(10)
