"""The last link of the chain: how long a call may take and how many may wait.

- **Deadline**: a transport sets ``DEADLINE`` (the event loop's clock) for the request it
  is serving: ``--request-timeout`` after its arrival, or the gRPC client's own deadline
  when that is sooner.  A call still running then is given up (the client gets 504 /
  DEADLINE_EXCEEDED); plain user code cannot be stopped, but its thread is no longer
  waited for, and a call stuck past ``--worker-timeout`` gets its worker replaced.
- **Backpressure**: at most ``--max-queue`` requests wait for a user call slot (beyond
  ``--threads`` running ones); more are answered 503 with ``Retry-After`` (gRPC:
  RESOURCE_EXHAUSTED) at once instead of piling up.  ``modelserve_queued_requests``
  shows how many wait.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from contextvars import ContextVar
from typing import Any

from modelserve.errors import DeadlineExceeded, Overloaded
from modelserve.model.component import UserCall

# When the request being served must be answered (None: never), on the event loop's clock
# (``ThreadBounds``: time.monotonic).
DEADLINE: ContextVar[float | None] = ContextVar("modelserve_deadline", default=None)


class Bounds:
    """The calls of one process in the data plane: how many are in."""

    def __init__(self, slots: int, max_queue: int, queue_gauge: Any = None):
        self.slots = slots
        self.max_queue = max_queue
        self.inside = 0
        # The queue-depth gauge's slot, written directly (a summed gauge needs no timestamp).
        self._gauge = (queue_gauge.values, queue_gauge.slot) if queue_gauge is not None else None

    def wrap(self, call: UserCall, queue: bool = True) -> UserCall:
        """``call`` bounded by the deadline of its request and (``queue``) the queue limit."""
        most = self.max_queue + self.slots if self.max_queue and queue else 1 << 62
        slots, gauge = self.slots, self._gauge
        values, slot = gauge if gauge is not None else (None, 0)
        get_deadline = DEADLINE.get

        async def bounded(*args: Any) -> Any:
            inside = self.inside
            if inside >= most:
                raise Overloaded(f"{inside - slots} requests are waiting already: try again shortly")
            self.inside = inside + 1
            if values is not None and inside >= slots:
                values[slot] = inside + 1 - slots
            try:
                deadline = get_deadline()
                if deadline is None:
                    return await call(*args)
                try:
                    async with asyncio.timeout_at(deadline):
                        return await call(*args)
                except TimeoutError:
                    raise DeadlineExceeded("The request took longer than its deadline") from None
            finally:
                inside = self.inside = self.inside - 1
                if values is not None:
                    values[slot] = inside - slots if inside > slots else 0

        return bounded


def run_to_end(coroutine: Awaitable[Any]) -> Any:
    """The result of a coroutine that never waits on an event loop, run on this thread."""
    assert isinstance(coroutine, Coroutine)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a call awaited an event loop on a thread of the threaded gRPC server")


class ThreadBounds(Bounds):
    """The bounds of a process whose calls are made on the threads of the threaded gRPC
    server: ``slots`` user calls at once, up to ``max_queue`` more waiting for one (health
    probes take no slot).  A call without a deadline runs on the thread that serves its
    request; one with a deadline runs on a user thread, so that its request can be
    answered DEADLINE_EXCEEDED on time while the call runs on."""

    def __init__(self, slots: int, max_queue: int, queue_gauge: Any = None):
        super().__init__(slots, max_queue, queue_gauge)
        self._lock = threading.Lock()
        self._free = threading.Semaphore(slots)
        self._started: dict[int, float] = {}  # thread -> when its user call started (time.monotonic)
        self._user_threads: _DeadlineThreads | None = None

    def oldest_call_start(self) -> float | None:
        """When the longest-running user call started (time.monotonic), if one runs."""
        return min(list(self._started.values()), default=None)

    def _count(self, change: int, most: int) -> None:
        values, slot = self._gauge if self._gauge is not None else (None, 0)
        with self._lock:
            inside = self.inside
            if inside >= most:
                raise Overloaded(f"{inside - self.slots} requests are waiting already: try again shortly")
            inside = self.inside = inside + change
            if values is not None:
                values[slot] = inside - self.slots if inside > self.slots else 0

    def _run(self, call: UserCall, args: tuple[Any, ...]) -> Any:
        """``call`` on this thread, in a slot taken for it (which this frees)."""
        thread = threading.get_ident()
        self._started[thread] = time.monotonic()
        try:
            return run_to_end(call(*args))
        finally:
            del self._started[thread]
            self._free.release()

    def wrap(self, call: UserCall, queue: bool = True) -> UserCall:
        most = self.max_queue + self.slots if self.max_queue and queue else 1 << 62
        count, free, run, get_deadline = self._count, self._free, self._run, DEADLINE.get

        async def bounded(*args: Any) -> Any:
            count(1, most)
            try:
                if not queue:
                    return await call(*args)
                deadline = get_deadline()
                if deadline is None:
                    free.acquire()
                    return run(call, args)
                if not free.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise DeadlineExceeded("The request took longer than its deadline")
                if self._user_threads is None:
                    self._user_threads = _DeadlineThreads(self.slots)
                future = self._user_threads.submit(contextvars.copy_context().run, run, call, args)
                try:
                    return future.result(timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    raise DeadlineExceeded("The request took longer than its deadline") from None
            finally:
                count(-1, 1 << 62)

        return bounded

    def close(self) -> None:
        if self._user_threads is not None:
            self._user_threads.close()


class _DeadlineThreads:
    """Daemon threads for the user calls of requests with a deadline (a stuck call must not
    keep its process from exiting, as a ThreadPoolExecutor's threads would)."""

    def __init__(self, count: int):
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"user-call-{i}", daemon=True) for i in range(max(1, count))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, function, args))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, function, args = job
            try:
                future.set_result(function(*args))
            except BaseException as error:  # the waiting request gets it, as if it had called itself
                future.set_exception(error)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
