"""A start-up failure quotes the log lines that say what went wrong: a JVM's
stack frames are left out of the tail (counted), its message and causes and a
Python traceback's lines stay."""

from __future__ import annotations

from pathlib import Path

from mlmesh.localstack.base import log_tail


def test_java_frames_are_left_out_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    frames = "".join(f"\tat org.apache.flink.Foo.bar{i}(Foo.java:{i})\n" for i in range(60))
    log.write_text(
        "starting\n"
        "Traceback (most recent call last):\n"
        '  File "features_job.py", line 3, in <module>\n'
        "pyflink.util.exceptions.TableException: Table sink doesn't support updates\n"
        + frames +
        "Caused by: java.lang.IllegalStateException: the reason\n"
        "\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n"
        "\t... 12 more\n")
    tail = log_tail(log, lines=40).splitlines()
    assert tail == [
        "starting",
        "Traceback (most recent call last):",
        '  File "features_job.py", line 3, in <module>',
        "pyflink.util.exceptions.TableException: Table sink doesn't support updates",
        "Caused by: java.lang.IllegalStateException: the reason",
        "(62 Java stack frame lines left out)",
    ]


def test_plain_log_tail_is_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, lines=3).splitlines() == ["line 97", "line 98", "line 99"]
    assert log_tail(tmp_path / "missing.log") == "(no log)"
