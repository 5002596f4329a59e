"""The chain every user call goes through, built once per process at start-up.

    plain -> timed -> batched -> traced

- **plain**: the model's own calls (``Component.user_calls``): the user's method with its
  fallbacks, run on the loop or in a thread, its answer as an ``Outcome``;
- **timed**: the call's time into ``modelserve_user_code_seconds`` (built-in metrics on)
  and the answer's custom metrics into their series; feedback also counts its reward;
- **batched** (``--max-batch-size`` > 1, ``predict`` only): concurrent requests merged
  into one timed call (``batching.py``), so a merged call is timed and counted once;
- **traced** (``--tracing``): a child span per call of a method the class has.

Each link wraps the callable of the one before; a link that is off is not in the chain,
so a process without batching or tracing runs none of their code.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from modelserve.dataplane.batching import Batcher
from modelserve.metrics.recorder import ServerMetrics
from modelserve.model.component import (
    HEALTH_STATUS,
    METRIC_METHOD_TAG,
    PREDICT,
    RAW,
    SEND_FEEDBACK,
    Component,
    Outcome,
    UserCall,
)
from modelserve.settings import Settings


class CallTracer(Protocol):
    """What the chain needs of tracing (``tracing/otel.py``'s ``Tracing``)."""

    def traced_call(self, model: str, verb: str, call: UserCall) -> UserCall: ...


def build_chain(
    component: Component, settings: Settings, metrics: ServerMetrics | None, tracer: CallTracer | None
) -> tuple[dict[str, UserCall], Batcher | None]:
    """Every verb's user call wrapped in the links that are on; and the batcher, if any."""
    calls = component.user_calls()
    batcher = None
    for verb, call in calls.items():
        call = timed(verb, call, metrics)
        if verb == PREDICT and settings.batching:
            batcher = Batcher(
                component,
                settings.max_batch_size,
                settings.max_batch_time_ms / 1000,
                call,
                metrics.batch_recorder() if metrics is not None else None,
            )
            call = batcher.predict
        if tracer is not None and component.has(verb):  # a fallback is no user call: no span
            call = tracer.traced_call(component.name, verb, call)
        calls[verb] = call
    return calls, batcher


def timed(verb: str, call: UserCall, metrics: ServerMetrics | None) -> UserCall:
    """The call timed (health probes are not user traffic: not timed) and its custom metrics recorded."""
    if metrics is None:
        return call
    base = verb.removesuffix(RAW)
    method = METRIC_METHOD_TAG.get(base, base)
    timer = metrics.user_code_timer(base) if base != HEALTH_STATUS else None
    record = metrics.record_custom
    if verb == SEND_FEEDBACK:
        call = _counting_feedback(call, metrics)

    if timer is None:

        async def recorded(*args: Any) -> Any:
            outcome = await call(*args)
            if outcome is not None and outcome.metrics:
                record(method, outcome.metrics)
            return outcome

        return recorded

    observe = timer.observe

    async def timed_call(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            outcome = await call(*args)
        finally:
            observe(time.perf_counter() - started)
        if outcome is not None and outcome.metrics:
            record(method, outcome.metrics)
        return outcome

    return timed_call


def _counting_feedback(call: UserCall, metrics: ServerMetrics) -> UserCall:
    """send_feedback(features, names, reward, truth, routing): every feedback and its reward counted."""

    async def counted(features: Any, names: list[str], reward: float, truth: Any, routing: int | None) -> Outcome:
        outcome: Outcome = await call(features, names, reward, truth, routing)
        metrics.record_feedback(reward)
        return outcome

    return counted
