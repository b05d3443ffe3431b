"""Bounded retries: every retry loop of the mesh has attempts, a deadline and a
stop check (as quix-streams' transactional retries do), and says what ran out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class RetriesExhausted(RuntimeError):
    """A retried call kept failing past its attempts or deadline."""


class RetryStopped(RuntimeError):
    """Shutdown was asked for while a call was being retried."""


@dataclass(frozen=True)
class Retry:
    attempts: int = 20
    deadline_s: float = 60.0
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0

    def call(self, fn: Callable[[], T], retriable: Callable[[Exception], bool], what: str,
             stop: Callable[[], bool] | None = None,
             sleep: Callable[[float], object] = time.sleep) -> T:
        """``fn()`` until it returns; an exception ``retriable`` refuses is
        raised at once; past ``attempts`` or ``deadline_s``: RetriesExhausted;
        ``stop()`` true between attempts: RetryStopped."""
        start = time.monotonic()
        backoff = self.backoff_s
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if not retriable(exc):
                    raise
                attempt += 1
                spent = time.monotonic() - start
                if attempt >= self.attempts or spent >= self.deadline_s:
                    raise RetriesExhausted(f"{what}: still failing after {attempt} attempts in "
                                           f"{spent:.1f} s: {exc}") from exc
                if stop is not None and stop():
                    raise RetryStopped(f"{what}: stopped while retrying ({exc})") from exc
                sleep(min(backoff, max(0.0, self.deadline_s - spent)))
                backoff = min(backoff * 2, self.max_backoff_s)
