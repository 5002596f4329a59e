"""The Seldon protocol: its REST routes and ``seldon.protos`` gRPC services.

Each operation takes the transport's own message (a JSON value on REST, a protobuf
message on gRPC), lets the class's ``*_raw`` method answer it when there is one, and
otherwise decodes it once with that transport's codec (``codecs/seldon.py``,
``codecs/seldon_proto.py``), calls the data plane and encodes the outcome.

Feedback is protobuf on both transports, as in the original: on REST its JSON is parsed
strictly into a ``Feedback``, answered as on gRPC, and the answer sent as protobuf JSON
(numbers as doubles, default values such as a COUNTER type left out).

Every service of ``seldon.protos`` is registered whatever the service type (Generic,
Model, Router, Transformer, OutputTransformer, Combiner, Seldon), and every REST route
too, as in the original; a method the model lacks answers a clear error.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Protocol

import numpy as np
import orjson
from google.protobuf import json_format

from modelserve.codecs import messages, numjson
from modelserve.codecs.seldon import (
    BIN_DATA,
    DATA_KINDS,
    STR_DATA,
    FeedbackRequest,
    SeldonJsonCodec,
    SeldonRequest,
    dumps,
)
from modelserve.codecs.seldon_http import raw_payload, read_message
from modelserve.codecs.seldon_proto import SeldonProtoCodec, decode_bytes, feedback_from_json
from modelserve.dataplane import DataPlane
from modelserve.errors import NOT_IMPLEMENTED, NOT_READY, BadRequest, ServingError, quote
from modelserve.handlers import openapi
from modelserve.handlers.contract import (
    JSON,
    HttpEndpoint,
    HttpRequest,
    HttpRoute,
    ProtocolHandler,
    Response,
    RpcBytesBehaviour,
    RpcMethod,
)
from modelserve.model.component import (
    AGGREGATE,
    HEALTH_STATUS,
    PREDICT,
    RAW,
    ROUTE,
    SEND_FEEDBACK,
    TRANSFORM_INPUT,
    TRANSFORM_OUTPUT,
    Component,
    Outcome,
)
from modelserve.settings import Settings

logger = logging.getLogger("modelserve.seldon")

_DUMPS = orjson.OPT_SERIALIZE_NUMPY
_UNARY_RPCS = {"Predict": PREDICT, "TransformInput": TRANSFORM_INPUT, "TransformOutput": TRANSFORM_OUTPUT}
_ARRAY_VERBS = frozenset((PREDICT, TRANSFORM_INPUT, TRANSFORM_OUTPUT, ROUTE))
_READ_ARRAYS = functools.partial(numjson.loads, paths=numjson.SELDON_PATHS)
_PONG = (200, b"text/html; charset=utf-8", b"pong")
SERVICES = tuple(messages.SERVICES)  # the full names of the seldon.protos services
SELDON_REASON = "seldon-reason"  # trailing metadata of a failed call


class SeldonWire(Protocol):
    """A codec between one transport's SeldonMessage form and the data plane."""

    def decode(self, message: Any) -> SeldonRequest: ...

    def decode_list(self, message: Any) -> list[SeldonRequest]: ...

    def encode(self, outcome: Outcome, request: SeldonRequest, carry_meta: bool = True) -> Any: ...

    def raw_metrics(self, answer: Any) -> list[dict[str, Any]]: ...

    def strip_raw_metrics(self, answer: Any) -> None: ...

    def health_request(self) -> SeldonRequest: ...


class FeedbackWire(SeldonWire, Protocol):
    """A codec that also reads ``Feedback`` messages (the protobuf one)."""

    def decode_feedback(self, message: Any, unit_id: str) -> FeedbackRequest: ...


Operation = Callable[[Any], Awaitable[Any]]


class SeldonOperations:
    """The protocol's operations over one wire form (JSON or protobuf)."""

    def __init__(self, plane: DataPlane, wire: SeldonWire, unit_id: str, include_metrics: bool):
        self.plane = plane
        self.wire = wire
        self.unit_id = unit_id
        self.include_metrics = include_metrics
        self.predict = self._unary(PREDICT)
        self.transform_input = self._unary(TRANSFORM_INPUT)
        self.transform_output = self._unary(TRANSFORM_OUTPUT)
        self._raws = {verb: self._raw(verb) for verb in (ROUTE, AGGREGATE)}
        self._route = plane.user_call(ROUTE)
        self._aggregate = plane.user_call(AGGREGATE)
        self._health_status = plane.user_call(HEALTH_STATUS)

    def _raw(self, verb: str) -> Callable[[Any], Awaitable[Any]] | None:
        """The verb's raw call answering the message as it came, when the class has one."""
        if not self.plane.has(verb + RAW):
            return None
        call = self.plane.user_call(verb + RAW)
        raw_answer = self._raw_answer

        async def answer_raw(message: Any) -> Any:
            outcome = await call(message)
            return None if outcome is None else raw_answer(verb, outcome.data)

        return answer_raw

    def _unary(self, verb: str) -> Operation:
        """predict, transform_input, transform_output: one message in, one out."""
        call, decode, encode = self.plane.user_call(verb), self.wire.decode, self.wire.encode
        raw = self._raw(verb)
        if raw is None:

            async def operation(message: Any) -> Any:
                request = decode(message)
                return encode(await call(request.X, request.names, request.meta), request)

            return operation

        async def raw_first(message: Any) -> Any:
            answer = await raw(message)
            if answer is not None:
                return answer
            request = decode(message)
            return encode(await call(request.X, request.names, request.meta), request)

        return raw_first

    async def route(self, message: Any) -> Any:
        raw = self._raws[ROUTE]
        if raw is not None and (answer := await raw(message)) is not None:
            return answer
        request = self.wire.decode(message)
        outcome = await self._route(request.X, request.names, request.meta)
        route = outcome.data
        if isinstance(route, np.integer):
            route = int(route)
        if not isinstance(route, int) or isinstance(route, bool):
            raise BadRequest(f"Routing response must be int but got {quote(route)}")
        outcome.data = np.array([[route]])
        return self.wire.encode(outcome, request, carry_meta=False)

    async def aggregate(self, message: Any) -> Any:
        raw = self._raws[AGGREGATE]
        if raw is not None and (answer := await raw(message)) is not None:
            return answer
        requests = self.wire.decode_list(message)
        check_combinable(requests)
        outcome = await self._aggregate([r.X for r in requests], [r.names for r in requests])
        merged = SeldonRequest(requests[0].kind, None, [], merged_meta(requests))
        return self.wire.encode(outcome, merged)

    async def health_status(self) -> Any:
        if self.plane.has(HEALTH_STATUS + RAW):
            raw = await self.plane.call(HEALTH_STATUS + RAW)
            if raw is not None:
                return self._raw_answer(HEALTH_STATUS, raw.data)
        outcome = await self._health_status(None, [], None)
        return self.wire.encode(outcome, self.wire.health_request())

    def _raw_answer(self, verb: str, answer: Any) -> Any:
        metrics = self.wire.raw_metrics(answer)
        if metrics:
            self.plane.record_raw_metrics(verb, metrics)
            if not self.include_metrics:
                self.wire.strip_raw_metrics(answer)
        return answer


class ProtoOperations(SeldonOperations):
    """The operations over protobuf messages, feedback included."""

    def __init__(self, plane: DataPlane, wire: FeedbackWire, unit_id: str, include_metrics: bool):
        super().__init__(plane, wire, unit_id, include_metrics)
        self.feedback_wire = wire
        self._feedback_raw = self._raw(SEND_FEEDBACK)
        self._send_feedback = plane.user_call(SEND_FEEDBACK)

    async def send_feedback(self, message: Any) -> Any:
        """A Feedback message in, a SeldonMessage out; the answer mirrors the Feedback's request."""
        raw = self._feedback_raw
        if raw is not None and (answer := await raw(message)) is not None:
            return answer
        feedback = self.feedback_wire.decode_feedback(message, self.unit_id)
        outcome = await self._send_feedback(
            feedback.features, feedback.request.names, feedback.reward, feedback.truth, feedback.routing
        )
        if outcome.data is None:
            outcome.data = np.array([])
        return self.feedback_wire.encode(outcome, feedback.request, carry_meta=False)


class SeldonHandler(ProtocolHandler):
    protocol = "seldon"

    def __init__(self, plane: DataPlane, settings: Settings):
        super().__init__(plane, settings)
        unit_id = settings.predictive_unit_id or "0"
        include = settings.include_metrics_in_response
        component = plane.component
        assert isinstance(component, Component), "the Seldon protocol serves a user's class"
        names, path = component.class_names, settings.request_path
        self.json = SeldonOperations(plane, SeldonJsonCodec(names, path, include), unit_id, include)
        self.proto_codec = SeldonProtoCodec(names, path, include)
        self.proto = ProtoOperations(plane, self.proto_codec, unit_id, include)
        self._openapi = resources.files("modelserve.handlers").joinpath("seldon-openapi.json").read_bytes()
        self._grpc_metadata: Any = None

    # -- REST

    def http_error(self, error: ServingError) -> Response:
        return error.status_code, JSON, orjson.dumps(error.to_dict())

    def http_routes(self) -> list[HttpRoute]:
        both, post, get = ("GET", "POST"), ("POST",), ("GET",)
        ops = self.json
        predict: HttpEndpoint
        if self.settings.payload_passthrough:
            predict = self._passthrough
        else:
            predict = self._endpoint(ops.predict, PREDICT)
        feedback = self._feedback
        return [
            HttpRoute("/predict", both, predict),
            HttpRoute("/api/v1.0/predictions", post, predict),
            HttpRoute("/api/v0.1/predictions", post, predict),
            HttpRoute("/transform-input", both, self._endpoint(ops.transform_input, TRANSFORM_INPUT)),
            HttpRoute("/transform-output", both, self._endpoint(ops.transform_output, TRANSFORM_OUTPUT)),
            HttpRoute("/route", both, self._endpoint(ops.route, ROUTE)),
            HttpRoute("/aggregate", both, self._endpoint(ops.aggregate, AGGREGATE)),
            HttpRoute("/send-feedback", both, feedback),
            HttpRoute("/api/v1.0/feedback", post, feedback),
            HttpRoute("/api/v0.1/feedback", post, feedback),
            HttpRoute("/health/ping", get, self._ping, probe=True),
            HttpRoute("/health/status", get, self._health_status, probe=True),
            HttpRoute("/api/v1.0/health/status", get, self._health_status, probe=True),
            HttpRoute("/metadata", get, self._metadata),
            HttpRoute("/api/v1.0/metadata", get, self._metadata),
            HttpRoute("/seldon.json", get, self._openapi_document),
        ]

    def openapi(self) -> dict[str, Any]:
        return openapi.part("seldon", self.http_routes())

    def _endpoint(self, operation: Operation, verb: str) -> Callable[[HttpRequest], Awaitable[Response]]:
        """An endpoint taking a SeldonMessage; a raw method's answer may choose the status."""
        if self.plane.has(verb + RAW):

            async def raw_endpoint(request: HttpRequest) -> Response:
                return answer_response(await operation(await read_message(request)))

            return raw_endpoint

        # The message is decoded by the codec alone (no raw method sees it): its payload
        # array can be read straight into numpy.
        fast = _READ_ARRAYS if verb in _ARRAY_VERBS else None

        async def endpoint(request: HttpRequest) -> Response:
            return 200, JSON, dumps(await operation(await read_message(request, fast)))

        return endpoint

    async def _feedback(self, request: HttpRequest) -> Response:
        """Feedback as the original serves it on REST: through protobuf (see the module's doc)."""
        return answer_response(await self.proto.send_feedback(feedback_from_json(await read_message(request))))

    async def _passthrough(self, request: HttpRequest) -> Response:
        if not self.plane.has(PREDICT + RAW):
            raise BadRequest("PAYLOAD_PASSTHROUGH is on but the model has no predict_raw to take the raw payload")
        return answer_response(await self.json.predict(raw_payload(request)))

    async def _ping(self, request: HttpRequest) -> Response:
        return _PONG

    async def _health_status(self, request: HttpRequest) -> Response:
        if not self.plane.ready:
            raise ServingError("Model is not ready", 503, NOT_READY)
        return answer_response(await self.json.health_status())

    async def _metadata(self, request: HttpRequest) -> Response:
        return 200, JSON, orjson.dumps(self.plane.model_metadata(), option=_DUMPS)

    async def _openapi_document(self, request: HttpRequest) -> Response:
        return 200, JSON, self._openapi

    # -- gRPC

    def rpc_trailers(self, error: ServingError) -> tuple[tuple[str, str], ...]:
        return ((SELDON_REASON, error.reason),)

    def rpc_methods(self) -> list[RpcMethod]:
        ops = self.proto
        behaviours: dict[str, Operation] = {
            "Predict": ops.predict,
            "TransformInput": ops.transform_input,
            "TransformOutput": ops.transform_output,
            "Route": ops.route,
            "Aggregate": ops.aggregate,
            "SendFeedback": ops.send_feedback,
            "Metadata": self._rpc_metadata,
            "ModelMetadata": self._rpc_metadata,
            "GraphMetadata": self._graph_metadata,
        }
        from_bytes = {name: self._from_bytes(verb) for name, verb in _UNARY_RPCS.items()}
        return [
            RpcMethod(service, method, request_class, _as_message(behaviours[method]),
                      from_bytes=from_bytes.get(method))
            for service, methods in messages.SERVICES.items()
            for method, (request_class, _) in methods.items()
        ]

    def _from_bytes(self, verb: str) -> RpcBytesBehaviour | None:
        """predict, transform_input, transform_output straight from the request's bytes in the
        plain case (``seldon_proto.decode_bytes``), when no raw method wants the message."""
        if self.plane.has(verb + RAW):
            return None
        call, codec = self.plane.user_call(verb), self.proto_codec

        async def answer(data: bytes, context: Any) -> Any:
            request = decode_bytes(data)
            if request is None:
                return None
            return codec.encode_bytes(await call(request.X, request.names, request.meta), request)

        return answer

    async def _rpc_metadata(self, request: Any) -> Any:
        """The model's metadata; an empty message when it is invalid (as the original answers)."""
        if self._grpc_metadata is None:
            try:
                self._grpc_metadata = SeldonProtoCodec.metadata(self.plane.model_metadata())
            except ServingError as error:
                logger.warning("answering empty metadata on gRPC: %s", error.message)
                self._grpc_metadata = messages.SeldonModelMetadata()
        return self._grpc_metadata

    async def _graph_metadata(self, request: Any) -> Any:
        raise ServingError("GraphMetadata: a single model has no inference graph", 501, NOT_IMPLEMENTED)


def _as_message(operation: Operation) -> Callable[[Any, Any], Awaitable[Any]]:
    """A gRPC behaviour: the operation's answer as a message to send (raw methods may answer a dict)."""

    async def behaviour(request: Any, context: Any) -> Any:
        return seldon_message_of(await operation(request))

    return behaviour


def seldon_message_of(answer: Any) -> Any:
    """What an operation returned, as a message to send: raw methods may answer a dict or bytes."""
    if hasattr(answer, "SerializeToString") or isinstance(answer, bytes):
        return answer  # ours, a user's own generated SeldonMessage, or already serialized
    if isinstance(answer, dict):
        try:
            return json_format.ParseDict(answer, messages.SeldonMessage(), descriptor_pool=messages.POOL)
        except json_format.ParseError as error:
            raise ServingError(f"A raw method's answer is not a SeldonMessage: {error}") from None
    raise ServingError(f"A raw method returned {type(answer).__name__}: expected a SeldonMessage or a dict")


def answer_response(answer: Any) -> Response:
    """An answer on REST; raw answers may also be text, bytes or protobuf, or choose the status."""
    if isinstance(answer, dict):
        status = answer.get("status")
        code = status.get("code") if isinstance(status, dict) else None
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            return code, JSON, orjson.dumps(answer, option=_DUMPS)
        return 200, JSON, orjson.dumps(answer, option=_DUMPS)
    if isinstance(answer, (bytes, bytearray)):
        return 200, JSON, bytes(answer)
    if isinstance(answer, str):
        return 200, JSON, answer.encode()
    if hasattr(answer, "DESCRIPTOR"):  # a protobuf message from a *_raw method
        return 200, JSON, orjson.dumps(json_format.MessageToDict(answer))
    if isinstance(answer, list):
        return 200, JSON, orjson.dumps(answer, option=_DUMPS)
    raise ServingError(f"A raw method returned {type(answer).__name__}: expected a dict, list, str or bytes")


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
