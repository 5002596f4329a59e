"""KServe V1 (REST only): ``{"instances": [...]}`` or ``{"inputs": ...}`` in, ``{"predictions": ...}`` out.

Routes: ``/v1/models``, ``/v1/models/<name>``, ``/v1/models/<name>:predict``, and
``:explain`` when the class has ``explain``; ``/`` (KServe's liveness) and
``/v1/health/ready``.  The model's name is the V2 one (``--model-name``).  Errors are
``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson

from modelserve.codecs import kserve_v1, numjson
from modelserve.dataplane import DataPlane
from modelserve.errors import NOT_FOUND, BadRequest, ServingError, quote
from modelserve.handlers import openapi
from modelserve.handlers.contract import (
    HttpPrefix,
    HttpRequest,
    HttpRoute,
    ProtocolHandler,
    Response,
    json_response,
)
from modelserve.handlers.naming import ModelNotFound, check_model, served_name
from modelserve.model.component import EXPLAIN, PREDICT
from modelserve.settings import Settings


class KServeV1Handler(ProtocolHandler):
    protocol = "kserve-v1"

    def __init__(self, plane: DataPlane, settings: Settings):
        super().__init__(plane, settings)
        self.name = served_name(plane, settings)
        self._predict = plane.user_call(PREDICT)
        self._explain = plane.user_call(EXPLAIN)
        self.has_explain = plane.has(EXPLAIN)

    def http_routes(self) -> list[HttpRoute]:
        get, post = ("GET",), ("POST",)
        base = f"/v1/models/{self.name}"
        routes = [
            HttpRoute("/", get, self._alive, probe=True),
            HttpRoute("/v1/health/ready", get, self._ready, probe=True),
            HttpRoute("/v1/models", get, self._models),
            HttpRoute(base, get, self._model),
            HttpRoute(base + ":predict", post, self._predict_endpoint),
        ]
        if self.has_explain:
            routes.append(HttpRoute(base + ":explain", post, self._explain_endpoint))
        return routes

    def http_prefixes(self) -> list[HttpPrefix]:
        return [HttpPrefix("/v1/models", self._not_found)]

    def openapi(self) -> dict[str, Any]:
        return openapi.part("kserve-v1", self.http_routes(), {"<model>": [self.name]})

    async def _alive(self, request: HttpRequest) -> Response:
        return json_response({"status": "alive"})

    async def _ready(self, request: HttpRequest) -> Response:
        ready = self.plane.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    async def _models(self, request: HttpRequest) -> Response:
        return json_response({"models": [self.name]})

    async def _model(self, request: HttpRequest) -> Response:
        return json_response({"name": self.name, "ready": self.plane.ready})

    async def _predict_endpoint(self, request: HttpRequest) -> Response:
        X, names = kserve_v1.decode(_message(request))
        outcome = await self._predict(X, names, None)
        return json_response(kserve_v1.predictions(outcome.data))

    async def _explain_endpoint(self, request: HttpRequest) -> Response:
        X, names = kserve_v1.decode(_message(request))
        outcome = await self._explain(X, names)
        return json_response(kserve_v1.explanation(outcome.data))

    def _not_found(self, path: str) -> ServingError:
        rest = path[len("/v1/models/") :] if path.startswith("/v1/models/") else ""
        name = rest.split(":", 1)[0].split("/", 1)[0]
        if name:
            try:
                check_model(unquote(name), None, self.name, None, say_version=False)
            except ModelNotFound as error:
                return error
            if rest.endswith(":explain"):
                return ServingError(f"Model {name} has no explain method", 404, NOT_FOUND)
        return ServingError(f"No route {quote(path)}", 404, NOT_FOUND)


def _message(request: HttpRequest) -> Any:
    message = numjson.loads(request.body, numjson.V1_PATHS)  # the rows straight into numpy
    if message is not None:
        return message
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"invalid JSON: {error}") from None
