"""Micro-batching in front of the model: exactly ``size`` texts per call, or
fewer once the oldest waiting text has waited ``timeout_s``.

One worker thread owns the model calls. Callers (the Kafka handler, or several
threads) ``submit`` texts and get one future per text; the worker takes the
queue ``size`` at a time in arrival order, so calls are full whenever enough
texts wait, and a short tail goes out after the timeout instead of waiting for
more input forever. A failed call fails the futures of its own texts only; the
caller decides (the service raises, and the sink loop retries the Kafka batch).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

log = logging.getLogger(__name__)

EmbedFn = Callable[[list[str]], np.ndarray]
BatchObserver = Callable[[int, float], None]  # (batch size, seconds in the model call)


class BatcherClosed(RuntimeError):
    """``submit`` after ``close``."""


class MicroBatcher:
    def __init__(self, embed: EmbedFn, size: int = 32, timeout_s: float = 0.02,
                 observer: BatchObserver | None = None, name: str = "embed-batcher") -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._embed = embed
        self.size = size
        self.timeout_s = timeout_s
        self._observer = observer
        self._queue: deque[tuple[float, str, Future[np.ndarray]]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.calls: Counter[int] = Counter()  # batch size -> number of model calls
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- callers -----------------------------------------------------------
    def submit(self, texts: Sequence[str]) -> list[Future[np.ndarray]]:
        now = time.monotonic()
        futures: list[Future[np.ndarray]] = [Future() for _ in texts]
        with self._cond:
            if self._closed:
                raise BatcherClosed("batcher is closed")
            self._queue.extend((now, t, f) for t, f in zip(texts, futures, strict=True))
            self._cond.notify_all()
        return futures

    def embed(self, texts: Sequence[str], timeout: float | None = None) -> np.ndarray:
        """Vectors for ``texts`` in order; raises the first model error."""
        futures = self.submit(texts)
        if not futures:
            return np.zeros((0, 0), dtype=np.float32)
        rows = [f.result(timeout) for f in futures]
        return np.stack(rows)

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- worker ------------------------------------------------------------
    def _take(self) -> list[tuple[float, str, Future[np.ndarray]]] | None:
        with self._cond:
            while True:
                if len(self._queue) >= self.size:
                    break
                if self._queue:
                    wait = self._queue[0][0] + self.timeout_s - time.monotonic()
                    if wait <= 0 or self._closed:
                        break
                    self._cond.wait(wait)
                elif self._closed:
                    return None
                else:
                    self._cond.wait()
            n = min(self.size, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            live = [(t, f) for _, t, f in group if f.set_running_or_notify_cancel()]
            if not live:
                continue
            texts = [t for t, _ in live]
            started = time.perf_counter()
            try:
                vectors = self._embed(texts)
                if len(vectors) != len(texts):
                    raise RuntimeError(f"model returned {len(vectors)} rows for {len(texts)}")
            except BaseException as exc:
                log.warning("model call failed", extra={"batch": len(texts), "error": repr(exc)})
                for _, f in live:
                    f.set_exception(exc)
                continue
            elapsed = time.perf_counter() - started
            self.calls[len(texts)] += 1
            if self._observer is not None:
                self._observer(len(texts), elapsed)
            for (_, f), vec in zip(live, vectors, strict=True):
                f.set_result(vec)
