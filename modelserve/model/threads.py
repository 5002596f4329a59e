"""The threads that run the user's (plain, not ``async``) methods, off the event loop.

A worker's event loop must stay free while user code runs: health probes, metrics and
other requests are answered meanwhile, and a call past its deadline can be given up.
``--threads N`` threads run calls (one: every call on the same thread, which is also what
``--single-threaded`` guarantees).  Handing a call over costs a queue put and a wake-up of
the loop: cheaper than ``loop.run_in_executor`` (no concurrent.futures.Future in between).

What is counted here feeds the backpressure of the data plane: calls handed over and
not yet started are *queued*.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

_STOP = None


def _finish(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # not given up (deadline, client gone) meanwhile
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class UserThreads:
    def __init__(self, count: int, name: str = "user-call"):
        self.count = max(1, count)
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._submitted = 0  # by the event loop's thread only
        self._started = itertools.count(1)  # by the user threads (next() is atomic)
        self._last_started = 0
        self.busy_since = [0.0] * self.count  # per thread: when its call started (time.monotonic), 0: idle
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"{name}-{i}", daemon=True) for i in range(self.count)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def queued(self) -> int:
        """Calls handed over that no thread has started yet."""
        return max(0, self._submitted - self._last_started)

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on a user thread, in the caller's context (so that a
        span the user's code starts joins the request's trace)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._submitted += 1
        self._jobs.put((loop, future, contextvars.copy_context().run, (function, *args), kwargs))
        return await future

    def oldest_start(self) -> float | None:
        """When the longest-running call started (time.monotonic), None when every thread is idle."""
        busy = [since for since in self.busy_since if since]
        return min(busy) if busy else None

    def _work(self, index: int) -> None:
        busy_since = self.busy_since
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            self._last_started = next(self._started)
            loop, future, function, args, kwargs = job
            busy_since[index] = time.monotonic()
            try:
                result = function(*args, **kwargs)
            except BaseException as error:  # the caller gets it, as if it had called itself
                try:
                    loop.call_soon_threadsafe(_fail, future, error)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    pass
            else:
                try:
                    loop.call_soon_threadsafe(_finish, future, result)
                except RuntimeError:
                    pass
            finally:
                busy_since[index] = 0.0

    def close(self) -> None:
        """Let the threads end once the calls they have are done (they do not keep the process up)."""
        for _ in self._threads:
            self._jobs.put(_STOP)
