"""The protocol-neutral core: every protocol's handlers call the model through here.

It knows nothing of JSON, protobuf or HTTP: it takes decoded inputs (arrays, strings,
dicts), calls the user's class through its ``Component`` and returns an ``Outcome``
(the answer with its tags and custom metrics).  Cross-cutting concerns of a call
(readiness, metrics, batching) belong here so that every protocol gets them.
"""

from __future__ import annotations

import time
from typing import Any

from modelserve.dataplane.batching import Batcher
from modelserve.errors import NotImplementedByModel
from modelserve.metrics.recorder import ServerMetrics
from modelserve.model import LoadedModel
from modelserve.model.component import (
    AGGREGATE,
    HEALTH_STATUS,
    METRIC_METHOD_TAG,
    PREDICT,
    SEND_FEEDBACK,
    VERBS,
    Component,
    Outcome,
    label_metrics,
)
from modelserve.settings import Settings


class DataPlane:
    def __init__(self, model: LoadedModel, settings: Settings, metrics: ServerMetrics | None = None):
        self.component: Component = model.component
        self.metadata = model.metadata
        self.settings = settings
        self.metrics = metrics
        self.ready = True  # the model is loaded before a data plane is built
        self.draining = False
        # The histogram child timing each verb's user calls, None when not recorded.
        # Health probes are not user traffic: their calls are not timed.
        self._timers = {verb: metrics.user_code_timer(verb) if metrics else None for verb in VERBS}
        self._timers[HEALTH_STATUS] = None
        if metrics is not None:
            metrics.model_loaded(model.load_seconds)
        self.batcher: Batcher | None = None
        if settings.batching and self.component.has(PREDICT):
            # Decided once: without batching, infer below is the request path, untouched.
            self.batcher = Batcher(
                self.component,
                settings.max_batch_size,
                settings.max_batch_time_ms / 1000,
                metrics.batch_recorder() if metrics is not None else None,
                self._invoke,
            )
            self.infer = self._infer_batching  # type: ignore[method-assign]

    @property
    def healthy(self) -> bool:
        return self.ready and not self.draining

    def drain(self) -> None:
        self.draining = True
        if self.metrics is not None:
            self.metrics.set_ready(False)

    async def infer(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """predict, transform_input, transform_output, route or health_status."""
        # _invoke written out: one coroutine less on every request.
        timer = self._timers[verb]
        if timer is None:
            outcome = await self.component.invoke(verb, X, names, meta)
        else:
            started = time.perf_counter()
            try:
                outcome = await self.component.invoke(verb, X, names, meta)
            finally:
                timer.observe(time.perf_counter() - started)
        if outcome.metrics and self.metrics is not None:
            self.metrics.record_custom(METRIC_METHOD_TAG[verb], outcome.metrics)
        return outcome

    async def _infer_batching(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """``infer`` with --max-batch-size: predict calls go through the batcher."""
        if verb != PREDICT:
            return await DataPlane.infer(self, verb, X, names, meta)
        assert self.batcher is not None
        outcome = await self.batcher.predict(X, names, meta)
        # A merged call's custom metrics come with its first request's answer only.
        if outcome.metrics and self.metrics is not None:
            self.metrics.record_custom(METRIC_METHOD_TAG[verb], outcome.metrics)
        return outcome

    async def _invoke(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """One user call, timed into modelserve_user_code_seconds when built-ins are on."""
        timer = self._timers[verb]
        if timer is None:
            return await self.component.invoke(verb, X, names, meta)
        started = time.perf_counter()
        try:
            return await self.component.invoke(verb, X, names, meta)
        finally:
            timer.observe(time.perf_counter() - started)

    async def raw(self, verb: str, message: Any) -> tuple[bool, Any]:
        """The verb's ``*_raw`` method on the protocol's own message, if the class has one."""
        timer = self._timers[verb]
        if timer is None:
            return await self.component.call_raw(verb, message)
        started = time.perf_counter()
        try:
            return await self.component.call_raw(verb, message)
        finally:
            timer.observe(time.perf_counter() - started)

    def has_raw(self, verb: str) -> bool:
        return self.component.raw_method(verb) is not None

    async def aggregate(self, features: list[Any], names: list[list[str]]) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = await self.component.aggregate(features, names)
        finally:
            self._observe(AGGREGATE, started)
        self._record(AGGREGATE, outcome)
        return outcome

    async def send_feedback(
        self, features: Any, names: list[str], reward: float, truth: Any, routing: int | None
    ) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = await self.component.send_feedback(features, names, reward, truth, routing)
        finally:
            self._observe(SEND_FEEDBACK, started)
        if self.metrics is not None:
            self.metrics.record_feedback(reward)
        self._record(SEND_FEEDBACK, outcome)
        return outcome

    def has_explain(self) -> bool:
        return self.component.user_method("explain") is not None

    async def explain(self, X: Any, names: list[str]) -> Any:
        """The class's ``explain(X, names)`` (KServe V1 ``:explain``)."""
        method = self.component.user_method("explain")
        if method is None:
            raise NotImplementedByModel("Explain not defined")
        return await self.component.call(method, X, names)

    def model_metadata(self) -> dict[str, Any]:
        return self.metadata.get()

    def raw_metrics(self, verb: str, metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Custom metrics a raw answer carries in its meta, validated, labelled and recorded."""
        labelled = label_metrics(metrics, METRIC_METHOD_TAG[verb])
        if self.metrics is not None:
            self.metrics.record_custom(METRIC_METHOD_TAG[verb], labelled)
        return labelled

    def _observe(self, verb: str, started: float) -> None:
        timer = self._timers[verb]
        if timer is not None:
            timer.observe(time.perf_counter() - started)

    def _record(self, verb: str, outcome: Outcome) -> None:
        if outcome.metrics and self.metrics is not None:
            self.metrics.record_custom(METRIC_METHOD_TAG[verb], outcome.metrics)
