"""The protocol-neutral core: every protocol's handlers call the model through here.

It knows nothing of JSON, protobuf or HTTP: it takes decoded inputs (arrays, strings,
dicts), calls the user's class through its ``Component`` and returns an ``Outcome``
(the answer with its tags and custom metrics).  Cross-cutting concerns of a call
(readiness, metrics, batching) belong here so that every protocol gets them.
"""

from __future__ import annotations

from typing import Any

from modelserve.batching import Batcher, OnBatch
from modelserve.model import LoadedModel
from modelserve.model.component import METRIC_METHOD_TAG, PREDICT, Component, Outcome, label_metrics
from modelserve.settings import Settings


class DataPlane:
    def __init__(self, model: LoadedModel, settings: Settings, on_batch: OnBatch | None = None):
        self.component: Component = model.component
        self.metadata = model.metadata
        self.settings = settings
        self.ready = True  # the model is loaded before a data plane is built
        self.draining = False
        self.batcher: Batcher | None = None
        if settings.batching and self.component.has(PREDICT):
            # Decided once: without batching, infer below is the request path, untouched.
            self.batcher = Batcher(self.component, settings.max_batch_size, settings.max_batch_time_ms / 1000, on_batch)
            self.infer = self._infer_batching  # type: ignore[method-assign]

    @property
    def healthy(self) -> bool:
        return self.ready and not self.draining

    async def infer(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """predict, transform_input, transform_output, route or health_status."""
        return await self.component.invoke(verb, X, names, meta)

    async def _infer_batching(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """``infer`` with --max-batch-size: predict calls go through the batcher."""
        if verb == PREDICT:
            assert self.batcher is not None
            return await self.batcher.predict(X, names, meta)
        return await self.component.invoke(verb, X, names, meta)

    async def raw(self, verb: str, message: Any) -> tuple[bool, Any]:
        """The verb's ``*_raw`` method on the protocol's own message, if the class has one."""
        return await self.component.call_raw(verb, message)

    def has_raw(self, verb: str) -> bool:
        return self.component.raw_method(verb) is not None

    async def aggregate(self, features: list[Any], names: list[list[str]]) -> Outcome:
        return await self.component.aggregate(features, names)

    async def send_feedback(
        self, features: Any, names: list[str], reward: float, truth: Any, routing: int | None
    ) -> Outcome:
        return await self.component.send_feedback(features, names, reward, truth, routing)

    def model_metadata(self) -> dict[str, Any]:
        return self.metadata.get()

    def raw_metrics(self, verb: str, metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Custom metrics a raw answer carries in its meta, validated and labelled."""
        return label_metrics(metrics, METRIC_METHOD_TAG[verb])
