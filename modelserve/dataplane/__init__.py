"""The protocol-neutral core: every protocol's handler calls the model through here.

It knows nothing of JSON, protobuf or HTTP: handlers give it decoded inputs (arrays,
strings, dicts) and get back an ``Outcome`` (the answer with its tags and custom
metrics).  It owns what every protocol shares:

- the user calls, each through the chain built once at start-up (``chain.py``:
  plain -> timed -> batched -> traced -> bounded); a handler takes the callables it needs once
  (``user_call``) and awaits them per request;
- readiness: the process is not draining and every transport of the server has a live
  worker (``peers_ready``, from the supervisor);
- the model's metadata and the recording of custom metrics that raw answers carry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from modelserve.dataplane.batching import Batcher
from modelserve.dataplane.bounds import Bounds, ThreadBounds
from modelserve.dataplane.chain import CallTracer, build_chain
from modelserve.metrics.recorder import ServerMetrics
from modelserve.model import Adapter, LoadedModel
from modelserve.model.component import METRIC_METHOD_TAG, RAW, UserCall, label_metrics
from modelserve.model.metadata import ModelMetadata
from modelserve.settings import Settings

__all__ = ["DataPlane"]


class DataPlane:
    def __init__(
        self,
        model: LoadedModel,
        settings: Settings,
        metrics: ServerMetrics | None = None,
        tracer: CallTracer | None = None,
        peers_ready: Callable[[], bool] | None = None,
        threaded: bool = False,
    ):
        """``threaded``: user calls are made on the threads of the threaded gRPC server."""
        self.component: Adapter = model.component
        self.metadata: ModelMetadata = model.metadata
        self.settings = settings
        self.metrics = metrics
        self.draining = False
        self._peers_ready = peers_ready
        queue_gauge = metrics.queue_gauge() if metrics is not None else None
        bounds = ThreadBounds if threaded else Bounds
        self.bounds = bounds(self.component.concurrency, settings.max_queue, queue_gauge)
        self.batcher: Batcher | None
        self._calls, self.batcher = build_chain(self.component, settings, metrics, tracer, self.bounds)
        if metrics is not None:
            metrics.model_loaded(model.load_seconds)

    # -- readiness

    @property
    def live(self) -> bool:
        return True

    @property
    def ready(self) -> bool:
        """Whether this process should get traffic."""
        if self.draining:  # (the model is always loaded: a process serves only after load())
            return False
        return self._peers_ready is None or self._peers_ready()

    def calls_on_time(self) -> bool:
        """Whether no user call has been running past ``--worker-timeout`` (see workers/board.py)."""
        oldest = self.component.oldest_call_start()  # (async calls block the loop: no heartbeat)
        if isinstance(self.bounds, ThreadBounds):
            oldest = self.bounds.oldest_call_start()
        return oldest is None or time.monotonic() - oldest < self.settings.stuck_after

    def drain(self) -> None:
        """Stop being ready for good (the process is shutting down or being recycled)."""
        self.draining = True
        if self.metrics is not None:
            self.metrics.set_ready(False)

    # -- user calls

    def has(self, verb: str) -> bool:
        """Whether the user's class has the method of ``verb`` (``predict``, ``predict_raw``...)."""
        return self.component.has(verb)

    def user_call(self, verb: str) -> UserCall:
        """The chained call of ``verb``: an awaitable answering an ``Outcome``."""
        return self._calls[verb]

    async def call(self, verb: str, *args: Any) -> Any:
        return await self._calls[verb](*args)

    def record_raw_metrics(self, verb: str, metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Custom metrics a raw answer carries (``meta.metrics``), validated, labelled and recorded."""
        method = METRIC_METHOD_TAG[verb.removesuffix(RAW)]
        labelled = label_metrics(metrics, method)
        if self.metrics is not None:
            self.metrics.record_custom(method, labelled)
        return labelled

    def model_metadata(self) -> dict[str, Any]:
        return self.metadata.get()

    def close(self) -> None:
        self.component.close()
        if isinstance(self.bounds, ThreadBounds):
            self.bounds.close()
