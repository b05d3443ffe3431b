"""Process lifecycle: SIGTERM/SIGINT -> a stop event the service loop watches."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


class StopSignal:
    """Set by SIGTERM/SIGINT (or :meth:`set`); services poll :meth:`is_set`
    between batches, then finish the current unit of work, commit or abort,
    and close their clients."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)
