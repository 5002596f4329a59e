"""The data plane's chain (plain -> timed -> batched -> traced) and its readiness, in process."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modelserve.dataplane import DataPlane
from modelserve.metrics import MetricsMerger, open_metrics
from modelserve.model import LoadedModel
from modelserve.model.component import PREDICT, SEND_FEEDBACK, TRANSFORM_INPUT, Component
from modelserve.model.metadata import ModelMetadata
from modelserve.settings import Settings
from modelserve.tracing.otel import Tracing


class Model:
    def predict(self, X: Any, names: list[str]) -> Any:
        return X

    def send_feedback(self, X: Any, names: list[str], reward: float, truth: Any, routing: Any = None) -> Any:
        return None

    def metrics(self) -> list[dict[str, Any]]:
        return [{"type": "COUNTER", "key": "calls", "value": 1}]


def loaded(user: Any) -> LoadedModel:
    return LoadedModel(Component(user), ModelMetadata.build(user, None, None), 0.0, loaded=True)


def samples(directory: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for metric in MetricsMerger(directory).collect():
        for sample in metric.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k in ("method", "le")))
            found[(sample.name, labels)] = sample.value
    return found


def test_user_calls_get_a_span_and_fallbacks_none() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    plane = DataPlane(loaded(Model()), Settings("Model"), tracer=Tracing(provider))

    async def calls() -> None:
        assert (await plane.call(PREDICT, 1, [], None)).data == 1
        assert (await plane.call(TRANSFORM_INPUT, 2, [], None)).data == 2  # the fallback
        await plane.call(SEND_FEEDBACK, 1, [], 1.0, None, None)

    asyncio.run(calls())
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["predict Model", "send_feedback Model"]
    assert dict(spans[0].attributes or {}) == {
        "modelserve.model.name": "Model",
        "modelserve.model.method": "predict",
        "code.function.name": "Model.predict",
    }
    assert not plane.has("predict_raw")


def test_timed_calls_record_time_custom_metrics_and_feedback() -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings("Model")
        plane = DataPlane(loaded(Model()), settings, open_metrics(directory, settings))

        async def calls() -> None:
            for _ in range(3):
                await plane.call(PREDICT, np.ones(2), [], None)
            await plane.call(SEND_FEEDBACK, np.ones(2), [], 0.5, None, None)

        asyncio.run(calls())
        found = samples(directory)
    assert found[("modelserve_user_code_seconds_count", (("method", "predict"),))] == 3
    assert found[("modelserve_user_code_seconds_count", (("method", "send_feedback"),))] == 1
    assert found[("calls_total", (("method", "predict"),))] == 3
    assert found[("calls_total", (("method", "feedback"),))] == 1
    assert found[("seldon_api_model_feedback_total", (("method", "feedback"),))] == 1
    assert found[("seldon_api_model_feedback_reward_total", (("method", "feedback"),))] == 0.5


def test_without_builtin_metrics_custom_ones_are_still_recorded() -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings("Model", builtin_metrics=False)
        plane = DataPlane(loaded(Model()), settings, open_metrics(directory, settings))
        asyncio.run(plane.call(PREDICT, np.ones(2), [], None))
        found = samples(directory)
    assert found[("calls_total", (("method", "predict"),))] == 1
    assert not any(name.startswith("modelserve_") for name, _ in found)


def test_readiness_follows_draining_and_the_other_workers() -> None:
    peers = {"ready": False}
    plane = DataPlane(loaded(Model()), Settings("Model"), peers_ready=lambda: peers["ready"])
    assert not plane.ready  # a configured transport has no live worker yet
    peers["ready"] = True
    assert plane.ready
    plane.drain()
    assert not plane.ready and plane.live
