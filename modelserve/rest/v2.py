"""The Open Inference Protocol (V2) and KServe V1 routes of the REST app.

The served model's name and version are known at start, so every route is an exact
path (``/v2/models/<name>/infer``, ``/v1/models/<name>:predict``...), as fast to find
as the Seldon ones.  Any other path under ``/v2`` or ``/v1/models`` answers 404 with
what is not there (``Model nope not found``).  Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

from urllib.parse import unquote

import orjson

from modelserve.codecs import v2
from modelserve.errors import NOT_FOUND, BadRequest, ServingError
from modelserve.handlers.v2 import ModelNotFound, V1Handlers, V2Handlers, new_request_id
from modelserve.rest.app import JSON, Endpoint, Request, Response, RestApp

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_OCTET = b"application/octet-stream"
_HEADER = v2.JSON_HEADER


def v2_error(error: ServingError) -> Response:
    return error.status_code, JSON, orjson.dumps({"error": error.message})


def _json(value: object, status: int = 200) -> Response:
    return status, JSON, orjson.dumps(value, option=_OPTIONS)


def add_v2_routes(app: RestApp, v2h: V2Handlers, v1h: V1Handlers) -> None:
    get, post = ("GET",), ("POST",)
    name, version = v2h.name, v2h.version

    def route(
        path: str, methods: tuple[str, ...], endpoint: Endpoint, protocol: str = "v2", probe: bool = False
    ) -> None:
        app.route(path, methods, endpoint, v2_error, protocol, probe)

    async def server_metadata(request: Request) -> Response:
        return _json(v2h.server_metadata())

    async def live(request: Request) -> Response:
        return _json({"live": True})

    async def ready(request: Request) -> Response:
        is_ready = v2h.ready
        return _json({"ready": is_ready}, 200 if is_ready else 503)

    async def model_metadata(request: Request) -> Response:
        return _json(v2h.model_metadata())

    async def model_ready(request: Request) -> Response:
        is_ready = v2h.ready
        return _json({"name": name, "ready": is_ready}, 200 if is_ready else 503)

    async def infer(request: Request) -> Response:
        infer_request = v2.decode_request(request.body, v2.header_length(request.headers))
        response = await v2h.infer(infer_request)
        if response.id is None:
            response.id = new_request_id()
        binary = v2.binary_outputs(infer_request, response)
        body, json_length = v2.encode_response(response, binary if any(binary) else None)
        if json_length is None:
            return 200, JSON, body
        return 200, _OCTET, body, [(_HEADER, str(json_length).encode())]

    route("/v2", get, server_metadata)
    route("/v2/", get, server_metadata)
    route("/v2/health/live", get, live, probe=True)
    route("/v2/health/ready", get, ready, probe=True)
    bases = [f"/v2/models/{name}"]
    if version:
        bases.append(f"/v2/models/{name}/versions/{version}")
    for base in bases:
        route(base, get, model_metadata)
        route(base + "/ready", get, model_ready, probe=True)
        route(base + "/infer", post, infer)
    app.prefix("/v2/", lambda path: _v2_not_found(v2h, path), v2_error)

    async def models(request: Request) -> Response:
        return _json(v1h.models())

    async def model(request: Request) -> Response:
        return _json(v1h.model(name))

    async def predict(request: Request) -> Response:
        return _json(await v1h.predict(name, _v1_message(request)))

    async def alive(request: Request) -> Response:
        return _json({"status": "alive"})

    route("/", get, alive, "kserve-v1", probe=True)  # KServe's V1 liveness
    route("/v1/health/ready", get, ready, "kserve-v1", probe=True)
    route("/v1/models", get, models, "kserve-v1")
    route(f"/v1/models/{name}", get, model, "kserve-v1")
    route(f"/v1/models/{name}:predict", post, predict, "kserve-v1")
    if v1h.has_explain:

        async def explain(request: Request) -> Response:
            return _json(await v1h.explain(name, _v1_message(request)))

        route(f"/v1/models/{name}:explain", post, explain, "kserve-v1")
    app.prefix("/v1/models", lambda path: _v1_not_found(v1h, path), v2_error)


def _v1_message(request: Request) -> object:
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"invalid JSON: {error}") from None


def _v2_not_found(v2h: V2Handlers, path: str) -> ServingError:
    """What an unknown path under /v2/ lacks: the model, its version, or the route."""
    parts = path.split("/")  # "", "v2", "models", name, ...
    if len(parts) >= 4 and parts[2] == "models" and parts[3]:
        name = unquote(parts[3])
        version = unquote(parts[5]) if len(parts) >= 6 and parts[4] == "versions" else None
        try:
            v2h.check_model(name, version)
        except ModelNotFound as error:
            return error
    return ServingError(f"No route {path}", 404, NOT_FOUND)


def _v1_not_found(v1h: V1Handlers, path: str) -> ServingError:
    rest = path[len("/v1/models/") :] if path.startswith("/v1/models/") else ""
    name = rest.split(":", 1)[0].split("/", 1)[0]
    if name:
        try:
            v1h.v2.check_model(unquote(name), None)
        except ModelNotFound as error:
            return error
        if rest.endswith(":explain"):
            return ServingError(f"Model {name} has no explain method", 404, NOT_FOUND)
    return ServingError(f"No route {path}", 404, NOT_FOUND)
