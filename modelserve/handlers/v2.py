"""The Open Inference Protocol (V2): its REST routes and ``inference.GRPCInferenceService``.

The model is served under one name (``--model-name``, default the class name) and at
most one version (``--model-version``).  An inference calls the user's ``predict``
through the data plane:

- one input tensor: ``X`` is its array (BYTES: an object array of ``bytes``); several:
  ``X`` is a dict of name -> array; ``names`` are the input names; ``meta`` holds the
  request's ``id`` and ``parameters``;
- an array (or list, or scalar) answer is one output, named from ``class_names`` when
  it is a single name, else ``output-0``; a dict answer is one output per key;
- an output named like an input, or the lone output of a lone input, keeps the input's
  ``content_type`` parameter; the request's ``id`` and ``parameters`` are echoed (REST
  answers a request without ``id`` with a new one, as MLServer does; gRPC leaves it empty).

Errors are ``{"error": "..."}`` on REST; INVALID_ARGUMENT or NOT_FOUND (unknown model
or version) on gRPC.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any
from urllib.parse import unquote

from modelserve.codecs import v2, v2_proto
from modelserve.codecs.v2 import BINARY_DATA_OUTPUT, InferRequest, InferResponse, Tensor, as_tensor
from modelserve.dataplane import DataPlane
from modelserve.datatypes import V2_DATATYPES
from modelserve.errors import NOT_FOUND, BadRequest, ServingError, quote
from modelserve.handlers import openapi
from modelserve.handlers.contract import (
    JSON,
    HttpPrefix,
    HttpRequest,
    HttpRoute,
    ProtocolHandler,
    Response,
    RpcMethod,
    json_response,
)
from modelserve.handlers.naming import ModelNotFound, check_model, served_name
from modelserve.model.component import PREDICT
from modelserve.settings import Settings
from modelserve.version import __version__

SERVER_NAME = "modelserve"
EXTENSIONS = ["binary_tensor_data"]
DEFAULT_OUTPUT = "output-0"
CONTENT_TYPE = "content_type"
SERVICE = v2_proto.SERVICE
_NOT_ECHOED = frozenset((BINARY_DATA_OUTPUT,))
_OCTET = b"application/octet-stream"
# Smaller gRPC requests are parsed whole: the copies of their raw contents cost less than the walk.
_SPLIT_MIN_BYTES = 4096


class V2Handler(ProtocolHandler):
    protocol = "v2"

    def __init__(self, plane: DataPlane, settings: Settings):
        super().__init__(plane, settings)
        self.name = served_name(plane, settings)
        self.version = settings.model_version or None
        self.output_name = _single_class_name(plane.component.user) or DEFAULT_OUTPUT
        self._predict = plane.user_call(PREDICT)
        self._metadata: dict[str, Any] | None = None
        self._metadata_message: Any = None
        self._server_metadata = {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}

    def check_model(self, name: str, version: str | None, say_version: bool = False) -> None:
        check_model(name, version, self.name, self.version, say_version)

    def model_metadata(self) -> dict[str, Any]:
        """V2 model metadata: the class's ``init_metadata`` inputs/outputs of V2 form, ``custom`` as parameters."""
        if self._metadata is None:
            source = self.plane.model_metadata()
            self._metadata = {
                "name": self.name,
                "versions": [self.version] if self.version else [],
                "platform": source.get("platform", ""),
                "inputs": _v2_tensors(source.get("inputs", [])),
                "outputs": _v2_tensors(source.get("outputs", [])),
                "parameters": dict(source.get("custom", {})),
            }
        return self._metadata

    async def infer(self, request: InferRequest) -> InferResponse:
        # Not refused when not ready: readiness steers new traffic, and the model is loaded
        # (a draining process still answers what reaches it).
        inputs = request.inputs
        names = [t.name for t in inputs]
        if len(names) > 1 and len(set(names)) != len(names):
            raise BadRequest("input names must be unique")
        X: Any = inputs[0].data if len(inputs) == 1 else {t.name: t.data for t in inputs}
        meta = {"id": request.id, "parameters": request.parameters}
        outcome = await self._predict(X, names, meta)
        outputs = self.outputs(outcome.data, inputs)
        if request.outputs is not None:
            by_name = {t.name: t for t in outputs}
            outputs = [by_name[o.name] for o in request.outputs if o.name in by_name]
        parameters = {k: v for k, v in request.parameters.items() if k not in _NOT_ECHOED}
        return InferResponse(self.name, outputs, self.version, request.id, parameters)

    def outputs(self, answer: Any, inputs: list[Tensor]) -> list[Tensor]:
        if isinstance(answer, dict):
            by_name = {t.name: t for t in inputs}
            return [_output(str(key), value, by_name.get(str(key))) for key, value in answer.items()]
        return [_output(self.output_name, answer, inputs[0] if len(inputs) == 1 else None)]

    # -- REST

    def http_routes(self) -> list[HttpRoute]:
        get, post = ("GET",), ("POST",)
        routes = [
            HttpRoute("/v2", get, self._server_metadata_endpoint),
            HttpRoute("/v2/", get, self._server_metadata_endpoint),
            HttpRoute("/v2/health/live", get, self._live, probe=True),
            HttpRoute("/v2/health/ready", get, self._ready, probe=True),
        ]
        for model in self._model_paths():
            base = f"/v2/models/{model}"
            routes.append(HttpRoute(base, get, self._model_metadata_endpoint))
            routes.append(HttpRoute(base + "/ready", get, self._model_ready, probe=True))
            routes.append(HttpRoute(base + "/infer", post, self._infer_endpoint))
        return routes

    def http_prefixes(self) -> list[HttpPrefix]:
        return [HttpPrefix("/v2/", self._not_found)]

    def openapi(self) -> dict[str, Any]:
        return openapi.part("v2", self.http_routes(), {"<model>": self._model_paths()})

    def _model_paths(self) -> list[str]:
        """The model in its paths: its name, and its name and version when it has one."""
        models = [self.name]
        if self.version:
            models.append(f"{self.name}/versions/{self.version}")
        return models

    async def _server_metadata_endpoint(self, request: HttpRequest) -> Response:
        return json_response(self._server_metadata)

    async def _live(self, request: HttpRequest) -> Response:
        return json_response({"live": self.plane.live})

    async def _ready(self, request: HttpRequest) -> Response:
        ready = self.plane.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    async def _model_metadata_endpoint(self, request: HttpRequest) -> Response:
        return json_response(self.model_metadata())

    async def _model_ready(self, request: HttpRequest) -> Response:
        ready = self.plane.ready
        return json_response({"name": self.name, "ready": ready}, 200 if ready else 503)

    async def _infer_endpoint(self, request: HttpRequest) -> Response:
        infer_request = v2.decode_request(request.body, v2.header_length(request.headers))
        response = await self.infer(infer_request)
        if response.id is None:
            response.id = new_request_id()
        binary = v2.binary_outputs(infer_request, response)
        body, json_length = v2.encode_response(response, binary if any(binary) else None)
        if json_length is None:
            return 200, JSON, body
        return 200, _OCTET, body, [(v2.JSON_HEADER, str(json_length).encode())]

    def _not_found(self, path: str) -> ServingError:
        """What an unknown path under /v2/ lacks: the model, its version, or the route."""
        parts = path.split("/")  # "", "v2", "models", name, ...
        if len(parts) >= 4 and parts[2] == "models" and parts[3]:
            name = unquote(parts[3])
            version = unquote(parts[5]) if len(parts) >= 6 and parts[4] == "versions" else None
            try:
                self.check_model(name, version)
            except ModelNotFound as error:
                return error
        return ServingError(f"No route {quote(path)}", 404, NOT_FOUND)

    # -- gRPC

    def rpc_methods(self) -> list[RpcMethod]:
        behaviours = {
            "ServerLive": (self._rpc_server_live, True),
            "ServerReady": (self._rpc_server_ready, True),
            "ModelReady": (self._rpc_model_ready, True),
            "ServerMetadata": (self._rpc_server_metadata, False),
            "ModelMetadata": (self._rpc_model_metadata, False),
            "ModelInfer": (self._rpc_model_infer, False),
        }
        return [
            RpcMethod(SERVICE, name, v2_proto.REQUESTS[name], behaviour, probe,
                      from_bytes=self._rpc_raw_model_infer if name == "ModelInfer" else None)
            for name, (behaviour, probe) in behaviours.items()
        ]

    async def _rpc_server_live(self, request: Any, context: Any) -> Any:
        return v2_proto.RESPONSES["ServerLive"](live=self.plane.live)

    async def _rpc_server_ready(self, request: Any, context: Any) -> Any:
        return v2_proto.RESPONSES["ServerReady"](ready=self.plane.ready)

    async def _rpc_model_ready(self, request: Any, context: Any) -> Any:
        self.check_model(request.name, request.version or None, say_version=True)
        return v2_proto.RESPONSES["ModelReady"](ready=self.plane.ready)

    async def _rpc_server_metadata(self, request: Any, context: Any) -> Any:
        return v2_proto.RESPONSES["ServerMetadata"](**self._server_metadata)

    async def _rpc_model_metadata(self, request: Any, context: Any) -> Any:
        self.check_model(request.name, request.version or None, say_version=True)
        if self._metadata_message is None:
            self._metadata_message = v2_proto.metadata_message(self.model_metadata())
        return self._metadata_message

    async def _rpc_model_infer(self, request: Any, context: Any) -> bytes:
        self.check_model(request.model_name, request.model_version or None, say_version=True)
        response = await self.infer(v2_proto.decode_request(request))
        return v2_proto.response_bytes(response, raw=bool(request.raw_input_contents))

    async def _rpc_raw_model_infer(self, data: bytes, context: Any) -> bytes | None:
        """ModelInfer with raw_input_contents, the contents viewed where they arrived; None:
        not that case, or undecodable (the transport parses the request and says so)."""
        if len(data) < _SPLIT_MIN_BYTES:
            return None
        split = v2_proto.split_raw_inputs(data)
        if split is None:
            return None
        rest, raw_inputs = split
        try:
            request = v2_proto.ModelInferRequest.FromString(rest)
        except Exception:
            return None
        self.check_model(request.model_name, request.model_version or None, say_version=True)
        response = await self.infer(v2_proto.decode_request(request, raw_inputs))
        return v2_proto.response_bytes(response, raw=True)


def _output(name: str, value: Any, source: Tensor | None) -> Tensor:
    parameters = None
    if source is not None and CONTENT_TYPE in source.parameters:
        parameters = {CONTENT_TYPE: source.parameters[CONTENT_TYPE]}
    try:
        return as_tensor(name, value, parameters)
    except BadRequest as error:
        raise ServingError(f"predict returned what is not a V2 tensor for output {name!r}: {error.message}") from None
    except (ValueError, TypeError) as error:
        raise ServingError(f"predict returned what is not a V2 tensor for output {name!r}: {error}") from None


def _single_class_name(user: Any) -> str | None:
    names = getattr(user, "class_names", None)
    try:
        if callable(names):
            names = names()
    except Exception:
        return None
    if isinstance(names, str):
        return names
    if isinstance(names, (list, tuple)) and len(names) == 1 and isinstance(names[0], str):
        return names[0]
    return None


def _v2_tensors(tensors: list[Any]) -> list[dict[str, Any]]:
    """Metadata tensors of V2 form (name, datatype, shape); Seldon ``messagetype`` ones are left out."""
    out = []
    for tensor in tensors:
        if isinstance(tensor, dict) and tensor.get("datatype") in V2_DATATYPES and "name" in tensor:
            out.append({"name": tensor["name"], "datatype": tensor["datatype"], "shape": list(tensor["shape"])})
    return out


# Request ids for requests that come without one: a random prefix per process and a
# counter, in the form of a UUID (uuid4() per request costs more than the rest of a small call).
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"
