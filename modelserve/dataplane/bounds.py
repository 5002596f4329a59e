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
from contextvars import ContextVar
from typing import Any

from modelserve.errors import DeadlineExceeded, Overloaded
from modelserve.model.component import UserCall

# When the request being served must be answered, on the event loop's clock (None: never).
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
