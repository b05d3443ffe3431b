"""One wait-until for tests: poll a predicate until it holds or a deadline
passes, with what was awaited in the failure."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.25, tolerate: bool = True) -> None:
    """Return once ``predicate()`` is truthy; AssertionError naming ``what``
    after ``timeout`` s. ``tolerate``: a predicate that raises counts as not
    yet (a server still starting or failing over)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            if not tolerate:
                raise
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
