"""ThreadBounds: the slots, queue and deadlines of user calls made on the threaded gRPC
server's pool threads, with real threads (each test's calls run on threads of its own)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from modelserve.dataplane.bounds import DEADLINE, ThreadBounds, run_to_end
from modelserve.errors import DeadlineExceeded, Overloaded


def blocking_call(release: threading.Event, running: list[int]) -> Callable[..., Any]:
    """A user call that holds its slot until ``release`` is set; ``running`` counts callers inside."""

    async def call(value: Any) -> Any:
        running.append(threading.get_ident())
        release.wait(10)
        return value

    return call


def submit(
    pool: ThreadPoolExecutor, call: Callable[..., Any], *args: Any, deadline: float | None = None
) -> Future[Any]:
    def on_thread() -> Any:
        if deadline is not None:
            DEADLINE.set(deadline)
        return run_to_end(call(*args))

    return pool.submit(on_thread)


def wait_until(condition: Callable[[], bool]) -> None:
    limit = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < limit, "condition not reached in 5 s"
        time.sleep(0.005)


def test_run_to_end_answers_a_coroutine_that_never_waits() -> None:
    async def answer() -> int:
        return 42

    assert run_to_end(answer()) == 42


def test_run_to_end_refuses_a_coroutine_that_waits_on_a_loop() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited an event loop"):
        run_to_end(waits())


def test_slots_then_queue_then_overloaded() -> None:
    bounds = ThreadBounds(slots=1, max_queue=1)
    release, running = threading.Event(), []
    bounded = bounds.wrap(blocking_call(release, running))
    with ThreadPoolExecutor(4) as pool:
        first = submit(pool, bounded, 1)
        wait_until(lambda: len(running) == 1)
        second = submit(pool, bounded, 2)  # waits for the slot
        wait_until(lambda: bounds.inside == 2)
        assert len(running) == 1
        started = time.monotonic()
        with pytest.raises(Overloaded):
            run_to_end(bounded(3))
        assert time.monotonic() - started < 0.5  # at once
        release.set()
        assert (first.result(5), second.result(5)) == (1, 2)
    assert bounds.inside == 0


def test_probes_take_no_slot() -> None:
    bounds = ThreadBounds(slots=1, max_queue=1)
    release, running = threading.Event(), []
    bounded = bounds.wrap(blocking_call(release, running))

    async def healthy() -> str:
        return "ok"

    probe = bounds.wrap(healthy, queue=False)
    with ThreadPoolExecutor(2) as pool:
        busy = submit(pool, bounded, 1)
        wait_until(lambda: len(running) == 1)
        assert run_to_end(probe()) == "ok"
        release.set()
        assert busy.result(5) == 1


def test_a_call_past_its_deadline_is_answered_on_time_and_keeps_its_slot_until_it_returns() -> None:
    bounds = ThreadBounds(slots=1, max_queue=4)
    release, running = threading.Event(), []
    bounded = bounds.wrap(blocking_call(release, running))
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        late = submit(pool, bounded, 1, deadline=time.monotonic() + 0.2)
        with pytest.raises(DeadlineExceeded):
            late.result(5)
        assert time.monotonic() - started < 1.0
        assert len(running) == 1 and running[0] != threading.get_ident()  # on a user thread
        assert bounds.oldest_call_start() is not None  # still running: a stuck worker is seen
        waiting = submit(pool, bounded, 2, deadline=time.monotonic() + 0.2)
        with pytest.raises(DeadlineExceeded):  # the slot is still the late call's
            waiting.result(5)
        release.set()
        wait_until(lambda: bounds.oldest_call_start() is None)
        assert submit(pool, bounded, 3, deadline=time.monotonic() + 5).result(5) == 3
    bounds.close()


def test_a_call_without_deadline_runs_on_the_calling_thread() -> None:
    bounds = ThreadBounds(slots=2, max_queue=0)
    release, running = threading.Event(), []
    release.set()
    assert run_to_end(bounds.wrap(blocking_call(release, running))(7)) == 7
    assert running == [threading.get_ident()]


def test_a_user_exception_reaches_the_caller_and_frees_the_slot() -> None:
    bounds = ThreadBounds(slots=1, max_queue=0)

    async def fails() -> None:
        raise ValueError("user error")

    bounded = bounds.wrap(fails)
    for deadline in (None, time.monotonic() + 5):
        token = DEADLINE.set(deadline)
        try:
            with pytest.raises(ValueError, match="user error"):
                run_to_end(bounded())
        finally:
            DEADLINE.reset(token)
    assert bounds.inside == 0 and bounds.oldest_call_start() is None
    bounds.close()


def test_the_queue_gauge_counts_waiting_calls() -> None:
    class Gauge:
        values = [0.0]
        slot = 0

    bounds = ThreadBounds(slots=1, max_queue=8, queue_gauge=Gauge)
    release, running = threading.Event(), []
    bounded = bounds.wrap(blocking_call(release, running))
    with ThreadPoolExecutor(4) as pool:
        calls = [submit(pool, bounded, i) for i in range(3)]
        wait_until(lambda: Gauge.values[0] == 2.0)
        release.set()
        assert [call.result(5) for call in calls] == [0, 1, 2]
    assert Gauge.values[0] == 0.0
