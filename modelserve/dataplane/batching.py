"""Adaptive batching of predict calls (``--max-batch-size``, ``--max-batch-time-ms``).

Concurrent predict requests of one worker are merged along the first axis into one
user call, and its answer is split back into one answer per request.  Every protocol
gets it: the data plane hands predict calls to a ``Batcher`` when batching is on.

When a batch goes (adaptive):
- a *slot* is a user call that may run at once (1 by default and with
  ``--single-threaded``, N with ``--threads N``).  With batching, plain (not ``async``)
  methods run in a thread even with one slot, so that the event loop keeps reading
  requests while the model computes: they queue here and go together;
- while a slot is free, what is queued goes at the end of the current event-loop
  iteration: at low load a lone request does not wait, and the requests read in the
  same iteration go together.  A batch never waits for more while the model could be
  computing: under load the model stays busy and each batch takes what came meanwhile;
- while every slot is busy, requests accumulate; a batch goes as soon as a slot frees,
  as soon as it is full (``max_batch_size`` requests), or when its oldest request has
  waited ``max_wait`` (it then queues behind the running calls, at most one such batch
  per slot, so that long calls do not fragment the queue into small batches).

What merges: numpy arrays of one or more rows (numeric, bool or string; not object)
with the same trailing shape, dtype (any width of str or bytes) and names.  Anything
else runs alone, exactly as without batching, as does a request with a non-empty
``meta`` when the user's predict takes a ``meta=`` argument (it could not get each
request's own).  A batch of one is called exactly as without batching.

The answer of a merged call must be an array (or a list, converted with numpy) with
one row per input row; otherwise every request of that batch gets a 500 saying so.
Its tags go to every answer; its custom metrics to the first request's answer only,
so that they are counted once per user call, as they were reported.  An exception of
the user's code fails only the requests of that batch.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import numpy as np

from modelserve.errors import ServingError
from modelserve.model.component import PREDICT, Component, Outcome

logger = logging.getLogger(__name__)

# bool, ints, unsigned, floats, complex; str and bytes merge whatever their width.
_NUMERIC_KINDS = frozenset("biufc")
_STRING_KINDS = frozenset("US")

# Called once per batch handed to the model: its number of requests and how long its
# oldest request waited in the queue (seconds).
OnBatch = Callable[[int, float], None]
Predict = Callable[[Any, list[str], Any], Awaitable[Outcome]]


class _Waiting:
    __slots__ = ("X", "future", "meta", "names", "since")

    def __init__(self, X: np.ndarray, names: list[str], meta: Any, future: asyncio.Future[Outcome], since: float):
        self.X = X
        self.names = names
        self.meta = meta
        self.future = future
        self.since = since


class Batcher:
    """Merges the concurrent predict calls of one component (one per process)."""

    def __init__(
        self,
        component: Component,
        max_batch_size: int,
        max_wait: float,
        predict: Predict,
        on_batch: OnBatch | None = None,
    ) -> None:
        if max_batch_size < 2:
            raise ValueError("batching needs a max batch size of at least 2")
        self.component = component
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.on_batch = on_batch
        self._predict = predict  # the next link of the data plane's chain (the timed user call)
        self._takes_meta = component.takes_meta(PREDICT)
        component.run_in_thread()
        logger.info(
            "batching predict of %s: up to %d requests a call, %g ms at most in the queue while busy",
            component.name,
            max_batch_size,
            max_wait * 1000,
        )
        self._groups: dict[Hashable, list[_Waiting]] = {}
        self._in_flight = 0  # batches handed to the model and not answered yet
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def slots(self) -> int:
        return self.component.concurrency

    async def predict(self, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        key = self._key(X, names, meta)
        if key is None:
            return await self._alone(X, names, meta)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = []
        group.append(_Waiting(X, names, meta, future, loop.time()))
        if self._flush_handle is None:
            self._flush_handle = loop.call_soon(self._flush)
        return await future

    def _key(self, X: Any, names: list[str], meta: Any) -> Hashable | None:
        """What a request must share with others to merge; None: it runs alone."""
        if type(X) is not np.ndarray or X.ndim == 0 or X.shape[0] == 0:
            return None
        if meta and self._takes_meta:
            return None
        kind = X.dtype.kind
        if kind in _NUMERIC_KINDS:
            dtype: Any = X.dtype
        elif kind in _STRING_KINDS:
            dtype = kind
        else:
            return None
        try:
            key = (dtype, X.shape[1:], tuple(names) if names else ())
            hash(key)
        except TypeError:  # names that are not strings
            return None
        return key

    async def _alone(self, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        self._in_flight += 1
        if self.on_batch is not None:
            self.on_batch(1, 0.0)
        try:
            return await self._predict(X, names, meta)
        finally:
            self._finished()

    # -- dispatching

    def _finished(self) -> None:
        self._in_flight -= 1
        if self._groups and self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _on_timer(self) -> None:
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        """Send what may go now; set the timer for what waits."""
        self._flush_handle = None
        groups = self._groups
        size = self.max_batch_size
        for key in list(groups):  # full batches go at once
            group = groups[key]
            while len(group) >= size:
                self._start(group[:size])
                del group[:size]
            if not group:
                del groups[key]
        loop = asyncio.get_running_loop()
        now = loop.time()
        while groups and self._in_flight < self.slots:  # free slots take the oldest
            key = min(groups, key=lambda k: groups[k][0].since)
            self._start(groups.pop(key))
        if not groups:
            return
        oldest = None
        for key in list(groups):
            since = groups[key][0].since
            if now - since >= self.max_wait:
                # waited long enough: in line behind the running calls, if there is room
                # (else it goes when a call ends: _finished flushes)
                if self._in_flight < 2 * self.slots:
                    self._start(groups.pop(key))
            elif oldest is None or since < oldest:
                oldest = since
        if oldest is None:
            return
        deadline = oldest + self.max_wait
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline

    def _start(self, batch: list[_Waiting]) -> None:
        batch = [waiting for waiting in batch if not waiting.future.done()]  # not cancelled
        if not batch:
            return
        self._in_flight += 1
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Waiting]) -> None:
        try:
            if self.on_batch is not None:
                self.on_batch(len(batch), asyncio.get_running_loop().time() - batch[0].since)
            first = batch[0]
            if len(batch) == 1:
                outcome = await self._predict(first.X, first.names, first.meta)
                if not first.future.done():
                    first.future.set_result(outcome)
                return
            X = np.concatenate([waiting.X for waiting in batch])
            outcome = await self._predict(X, first.names, first.meta)
            for waiting, answer in zip(batch, self._split(outcome, batch, len(X)), strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(answer)
        except asyncio.CancelledError:
            for waiting in batch:
                waiting.future.cancel()
            raise
        except Exception as error:
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(_own_copy(error))
        finally:
            self._finished()

    def _split(self, outcome: Outcome, batch: list[_Waiting], rows: int) -> list[Outcome]:
        data = outcome.data
        if isinstance(data, list):
            try:
                data = np.asarray(data)
            except ValueError:
                pass
        if not isinstance(data, np.ndarray) or data.ndim == 0 or data.shape[0] != rows:
            raise ServingError(
                f"{self.component.name}.predict got {rows} rows merged from {len(batch)} requests "
                f"(--max-batch-size {self.max_batch_size}) and answered {_describe(data)}: "
                "a batched predict must answer one row per input row"
            )
        answers = []
        start = 0
        tags, metrics = outcome.tags, outcome.metrics
        for waiting in batch:
            stop = start + waiting.X.shape[0]
            answers.append(Outcome(data[start:stop], dict(tags) if tags else {}, metrics))
            metrics = []
            start = stop
        return answers


def _describe(data: Any) -> str:
    if isinstance(data, np.ndarray):
        return f"an array of shape {data.shape}"
    return f"a {type(data).__name__}"


def _own_copy(error: Exception) -> Exception:
    """Each request raises its own error object (tracebacks are per task)."""
    if not isinstance(error, ServingError):
        return error
    mine = copy.copy(error)
    mine.__cause__ = error.__cause__
    return mine
