"""bench.common.jit_cpu_seconds counts the CPU of threads the OS names as
HotSpot's JIT compiler threads, and only theirs."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time

import pytest

from bench.common import jit_cpu_seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="thread names come from /proc")

PR_SET_NAME = 15


def _spin(name: bytes, seconds: float, done: threading.Event) -> None:
    # the calling thread's OS name (what /proc shows), as HotSpot sets it
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    assert libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) == 0
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    done.wait(10)  # stay alive (and listed) until measured


def _measure(name: bytes, seconds: float) -> float:
    done = threading.Event()
    before = jit_cpu_seconds(os.getpid())
    worker = threading.Thread(target=_spin, args=(name, seconds, done))
    worker.start()
    deadline = time.monotonic() + 10
    while jit_cpu_seconds(os.getpid()) - before < seconds * 0.8 and time.monotonic() < deadline:
        time.sleep(0.05)
    used = jit_cpu_seconds(os.getpid()) - before
    done.set()
    worker.join()
    return used


def test_a_compiler_threads_cpu_is_counted() -> None:
    assert _measure(b"C2 CompilerThre", 0.3) >= 0.2


def test_other_threads_are_not() -> None:
    done = threading.Event()
    worker = threading.Thread(target=_spin, args=(b"GlobalWindowAgg", 0.3, done))
    before = jit_cpu_seconds(os.getpid())
    worker.start()
    time.sleep(0.6)
    assert jit_cpu_seconds(os.getpid()) - before == 0.0
    done.set()
    worker.join()
