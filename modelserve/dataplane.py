"""The protocol-neutral core: every protocol's handlers call the model through here.

It knows nothing of JSON, protobuf or HTTP: it takes decoded inputs (arrays, strings,
dicts), calls the user's class through its ``Component`` and returns an ``Outcome``
(the answer with its tags and custom metrics).  Cross-cutting concerns of a call
(readiness, metrics, batching) belong here so that every protocol gets them.
"""

from __future__ import annotations

from typing import Any

from modelserve.errors import NotImplementedByModel
from modelserve.model import LoadedModel
from modelserve.model.component import METRIC_METHOD_TAG, Component, Outcome, label_metrics
from modelserve.settings import Settings


class DataPlane:
    def __init__(self, model: LoadedModel, settings: Settings):
        self.component: Component = model.component
        self.metadata = model.metadata
        self.settings = settings
        self.ready = True  # the model is loaded before a data plane is built
        self.draining = False

    @property
    def healthy(self) -> bool:
        return self.ready and not self.draining

    async def infer(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """predict, transform_input, transform_output, route or health_status."""
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
        """Custom metrics a raw answer carries in its meta, validated and labelled."""
        return label_metrics(metrics, METRIC_METHOD_TAG[verb])
