"""Merlin's HTTP_JSON protocol (an MLflow pyfunc model, ``CARAML_PROTOCOL=HTTP_JSON``).

Routes, with ``NAME`` the model's full name (``CARAML_MODEL_FULL_NAME``, e.g. ``model-1``):

- ``POST /v1/models/NAME:predict``: the JSON body, any value, to the model's ``infer``
  with the request headers; its answer as JSON;
- ``GET /v1/models/NAME``: ``{"name": NAME, "ready": true}`` (503 and false while draining);
- ``GET /``: ``Alive``;
- ``GET /metrics``: the server's metrics, every worker's merged, the model's own
  prometheus_client metrics with them (one port, as Knative wants).

Errors are ``{"status_code": N, "reason": "..."}``: 400 ``Unrecognized request format: ...``
for a body that is not JSON, 404 for another model's name, 405 for a wrong method, the
status of a tornado-style ``HTTPError`` the model raised, else 500 ``Internal Server Error``.
"""

from __future__ import annotations

import re

from modelserve.codecs import merlin
from modelserve.dataplane import DataPlane
from modelserve.errors import METHOD_NOT_ALLOWED, NOT_FOUND, ServingError
from modelserve.handlers.contract import HttpPrefix, HttpRequest, HttpRoute, ProtocolHandler, Response
from modelserve.metrics import relay
from modelserve.model.pyfunc import INFER
from modelserve.settings import Settings

JSON_UTF8 = merlin.CONTENT_TYPE.encode()
HTML = b"text/html; charset=UTF-8"
MODELS = "/v1/models/"
_NAME = re.compile(r"[a-zA-Z0-9_-]+")  # the names Merlin's routes accept


class MerlinHandler(ProtocolHandler):
    protocol = "http-json"

    def __init__(self, plane: DataPlane, settings: Settings):
        super().__init__(plane, settings)
        self.name = settings.served_name
        self._infer = plane.user_call(INFER)
        self._metrics_dir = plane.metrics.store.directory if plane.metrics is not None else None

    def http_routes(self) -> list[HttpRoute]:
        get = ("GET",)
        return [
            HttpRoute("/", get, self._alive, probe=True),
            HttpRoute(MODELS + self.name, get, self._model, probe=True),
            HttpRoute(MODELS + self.name + ":predict", ("POST",), self._predict),
            HttpRoute("/metrics", get, self._metrics, probe=True),
        ]

    def http_prefixes(self) -> list[HttpPrefix]:
        return [HttpPrefix(MODELS, self._not_found)]

    def http_error(self, error: ServingError) -> Response:
        reason = "Method Not Allowed" if error.reason == METHOD_NOT_ALLOWED else merlin.reason(error)
        return error.status_code, JSON_UTF8, merlin.error_body(error.status_code, reason)

    async def _predict(self, request: HttpRequest) -> Response:
        body = merlin.decode(request.body)
        outcome = await self._infer(body, merlin.headers(request.headers))
        return 200, JSON_UTF8, merlin.encode(outcome.data)

    async def _alive(self, request: HttpRequest) -> Response:
        return 200, HTML, b"Alive"

    async def _model(self, request: HttpRequest) -> Response:
        ready = self.plane.ready
        return (200 if ready else 503), JSON_UTF8, merlin.encode({"name": self.name, "ready": ready})

    async def _metrics(self, request: HttpRequest) -> Response:
        if self._metrics_dir is None:
            raise ServingError("no metrics in this process", 404, NOT_FOUND)
        accept = (request.header(b"accept") or b"").decode("latin-1")
        body, content_type = await relay.scrape(self._metrics_dir, accept)
        return 200, content_type.encode(), body

    def _not_found(self, path: str) -> ServingError:
        name = path[len(MODELS) :].removesuffix(":predict")
        if _NAME.fullmatch(name):
            return ServingError(f"Model with full name {name} does not exist.", 404, NOT_FOUND)
        return ServingError("Not Found", 404, NOT_FOUND)
