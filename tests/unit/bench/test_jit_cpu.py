"""bench.common.jit_cpu_seconds counts the CPU of threads the OS names as
HotSpot's JIT compiler threads, and only theirs.

Each case measures a child process of its own (a thread named as HotSpot
names its threads, spinning): the function counts a process's descendants
too, and the test runner's may include JVMs (a session's Kafka broker)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from bench.common import jit_cpu_seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="thread names come from /proc")

# names the spinning thread (PR_SET_NAME, as HotSpot does), spins for the
# given CPU seconds, says so, then waits until stdin closes
CHILD = """
import ctypes, ctypes.util, sys, threading, time
def spin():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    assert libc.prctl(15, ctypes.c_char_p(sys.argv[1].encode()), 0, 0, 0) == 0
    end = time.thread_time() + float(sys.argv[2])
    while time.thread_time() < end:
        pass
    print("spun", flush=True)
    sys.stdin.read()
threading.Thread(target=spin).start()
"""


def _measure(name: str, seconds: float) -> tuple[float, float]:
    """(JIT CPU seconds counted, all CPU seconds used) of a child whose
    thread ``name`` spun for ``seconds`` of CPU."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, name, str(seconds)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "spun"
        time.sleep(0.05)
        cpu = psutil.Process(child.pid).cpu_times()
        return jit_cpu_seconds(child.pid), cpu.user + cpu.system
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def test_a_compiler_threads_cpu_is_counted() -> None:
    jit, _ = _measure("C2 CompilerThre", 0.3)
    assert jit >= 0.25


def test_other_threads_are_not() -> None:
    jit, used = _measure("GlobalWindowAgg", 0.3)
    assert used >= 0.25  # it did spin
    assert jit == 0.0
