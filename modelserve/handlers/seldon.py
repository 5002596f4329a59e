"""The Seldon protocol's operations, the same for every transport.

A handler takes the transport's own message (a JSON value on REST, a protobuf message
on gRPC), lets the class's ``*_raw`` method answer it when there is one, and otherwise
decodes it once with the transport's codec, calls the data plane and encodes the
outcome.  Transports stay thin: they only read bytes and write answers.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import numpy as np

from modelserve.codecs.seldon import BIN_DATA, DATA_KINDS, STR_DATA, FeedbackRequest, SeldonRequest
from modelserve.dataplane import DataPlane
from modelserve.errors import BadRequest
from modelserve.model.component import (
    AGGREGATE,
    HEALTH_STATUS,
    PREDICT,
    ROUTE,
    SEND_FEEDBACK,
    TRANSFORM_INPUT,
    TRANSFORM_OUTPUT,
    VERBS,
    Outcome,
)


class SeldonWire(Protocol):
    """A codec between one transport's SeldonMessage form and the data plane."""

    def decode(self, message: Any) -> SeldonRequest: ...

    def decode_list(self, message: Any) -> list[SeldonRequest]: ...

    def decode_feedback(self, message: Any, unit_id: str) -> FeedbackRequest: ...

    def encode(
        self, outcome: Outcome, request: SeldonRequest, carry_meta: bool = True, omit_empty_names: bool = False
    ) -> Any: ...

    def raw_metrics(self, answer: Any) -> list[dict[str, Any]]: ...

    def strip_raw_metrics(self, answer: Any) -> None: ...

    def health_request(self) -> SeldonRequest: ...


class SeldonHandlers:
    def __init__(self, plane: DataPlane, wire: SeldonWire, unit_id: str, include_metrics: bool):
        self.plane = plane
        self.wire = wire
        self.unit_id = unit_id
        self.include_metrics = include_metrics
        self._raw_verbs = frozenset(verb for verb in VERBS if plane.has_raw(verb))
        self.predict = functools.partial(self._unary, PREDICT)
        self.transform_input = functools.partial(self._unary, TRANSFORM_INPUT)
        self.transform_output = functools.partial(self._unary, TRANSFORM_OUTPUT)

    async def _unary(self, verb: str, message: Any) -> Any:
        """predict, transform_input, transform_output: one message in, one out."""
        if verb in self._raw_verbs:
            handled, answer = await self.plane.raw(verb, message)
            if handled:
                return self._raw_answer(verb, answer)
        request = self.wire.decode(message)
        outcome = await self.plane.infer(verb, request.X, request.names, request.meta)
        return self.wire.encode(outcome, request)

    async def route(self, message: Any) -> Any:
        if self.plane.has_raw(ROUTE):
            handled, answer = await self.plane.raw(ROUTE, message)
            if handled:
                return self._raw_answer(ROUTE, answer)
        request = self.wire.decode(message)
        outcome = await self.plane.infer(ROUTE, request.X, request.names, request.meta)
        route = outcome.data
        if isinstance(route, np.integer):
            route = int(route)
        if not isinstance(route, int) or isinstance(route, bool):
            raise BadRequest(f"Routing response must be int but got {route!r}")
        outcome.data = np.array([[route]])
        return self.wire.encode(outcome, request, carry_meta=False)

    async def aggregate(self, message: Any) -> Any:
        if self.plane.has_raw(AGGREGATE):
            handled, answer = await self.plane.raw(AGGREGATE, message)
            if handled:
                return self._raw_answer(AGGREGATE, answer)
        requests = self.wire.decode_list(message)
        check_combinable(requests)
        outcome = await self.plane.aggregate([r.X for r in requests], [r.names for r in requests])
        merged = SeldonRequest(requests[0].kind, None, [], merged_meta(requests))
        return self.wire.encode(outcome, merged)

    async def send_feedback(self, message: Any) -> Any:
        if self.plane.has_raw(SEND_FEEDBACK):
            handled, answer = await self.plane.raw(SEND_FEEDBACK, message)
            if handled:
                return self._raw_answer(SEND_FEEDBACK, answer)
        feedback = self.wire.decode_feedback(message, self.unit_id)
        outcome = await self.plane.send_feedback(
            feedback.features, feedback.request.names, feedback.reward, feedback.truth, feedback.routing
        )
        if outcome.data is None:
            outcome.data = np.array([])
        return self.wire.encode(outcome, feedback.request, carry_meta=False, omit_empty_names=True)

    async def health_status(self) -> Any:
        raw = self.plane.component.raw_method(HEALTH_STATUS)
        if raw is not None:
            return self._raw_answer(HEALTH_STATUS, await self.plane.component.call(raw))
        request = self.wire.health_request()
        outcome = await self.plane.infer(HEALTH_STATUS, None, [], None)
        return self.wire.encode(outcome, request)

    def _raw_answer(self, verb: str, answer: Any) -> Any:
        metrics = self.wire.raw_metrics(answer)
        if metrics:
            self.plane.raw_metrics(verb, metrics)
            if not self.include_metrics:
                self.wire.strip_raw_metrics(answer)
        return answer


def check_combinable(requests: list[SeldonRequest]) -> None:
    """Messages a combiner can take: at least one, no opaque payloads, one shape."""
    if not requests:
        raise BadRequest("Aggregate needs at least one message in seldonMessages")
    for index, request in enumerate(requests):
        if request.kind in (STR_DATA, BIN_DATA):
            raise BadRequest(f"Cannot aggregate {request.kind} (message {index}): send data or jsonData messages")
    shapes = [tuple(r.X.shape) for r in requests if r.kind in DATA_KINDS]
    if len(set(shapes)) > 1:
        raise BadRequest(f"Cannot aggregate messages of different shapes: {', '.join(map(str, shapes))}")


def merged_meta(requests: list[SeldonRequest]) -> dict[str, Any]:
    """The inputs' tags and requestPaths merged, their metrics concatenated, the first puid."""
    tags: dict[str, Any] = {}
    path: dict[str, Any] = {}
    metrics: list[Any] = []
    for request in requests:
        meta = request.meta if isinstance(request.meta, dict) else {}
        if isinstance(meta.get("tags"), dict):
            tags.update(meta["tags"])
        if isinstance(meta.get("requestPath"), dict):
            path.update(meta["requestPath"])
        if isinstance(meta.get("metrics"), list):
            metrics.extend(meta["metrics"])
    merged: dict[str, Any] = {"tags": tags, "requestPath": path, "metrics": metrics}
    if requests[0].puid:
        merged["puid"] = requests[0].puid
    return merged
