"""The OpenAPI 3 document of a process's REST routes, and the page that shows it.

Each protocol describes its own routes (``ProtocolHandler.openapi``) in a part of its
own, ``handlers/openapi-<protocol>.json``: a tag, the paths and the schemas of its
bodies.  A path may hold a placeholder such as ``<model>``, which the handler fills with
what it serves (the model's name, and its version), and ``part`` keeps the operations of
the routes the handler serves, refusing to start when one of them is not described.

``OpenApiHandler`` merges the parts once, when the REST app is built, and serves the
whole document at ``/openapi.json`` and a Swagger UI page at ``/docs`` (the page loads
swagger-ui from a CDN: the browser needs to reach it).  ``seldon-openapi.json``, served
at ``/seldon.json``, is another thing: the original Seldon wrapper's own document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import orjson

from modelserve.handlers.contract import JSON, HttpRequest, HttpRoute, ProtocolHandler, Response
from modelserve.version import __version__

OPENAPI = "3.0.3"
DOCUMENT_PATH = "/openapi.json"
DOCS_PATH = "/docs"
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

Part = dict[str, Any]  # {"tags": [...], "paths": {...}, "components": {"schemas": {...}, ...}}

DESCRIPTION = """\
Every REST route this modelserve process serves, for the model it serves: the Seldon
protocol, the Open Inference Protocol (V2) and KServe V1.

Besides the answers each route lists, the HTTP layer refuses what it cannot take, in
the Seldon error format: 400 (malformed HTTP), 408 (a request that does not arrive in
time), 413 (a body above the limit), 414 (a URL too long), 431 (headers too large),
503 (too many connections).  A 500 is a failure of the model's own code."""


def part(name: str, routes: Sequence[HttpRoute], placeholders: Mapping[str, Sequence[str]] | None = None) -> Part:
    """The operations of ``routes`` from ``openapi-<name>.json``; a path holding a placeholder
    (``<model>``) stands for one path per value the placeholder is given."""
    text = resources.files("modelserve.handlers").joinpath(f"openapi-{name}.json").read_text()
    source = json.loads(text)
    described: dict[str, Any] = {}
    for path, item in source["paths"].items():
        for concrete in _expand(path, placeholders or {}):
            described[concrete] = item
    paths: dict[str, Any] = {}
    for route in routes:
        for method in route.methods:
            operation = described.get(route.path, {}).get(method.lower())
            if operation is None:
                raise ValueError(f"openapi-{name}.json does not describe {method} {route.path}")
            operation = {"tags": [source["tag"]["name"]], **operation}
            paths.setdefault(route.path, {})[method.lower()] = operation
    return {"tags": [source["tag"]], "paths": paths, "components": source.get("components", {})}


def _expand(path: str, placeholders: Mapping[str, Sequence[str]]) -> list[str]:
    paths = [path]
    for placeholder, values in placeholders.items():
        if placeholder in path:
            paths = [p.replace(placeholder, value) for p in paths for value in values]
    return paths


def merge(parts: Sequence[Part]) -> dict[str, Any]:
    """The document of every part: a path is described once, a component name means one
    component (parts may share one, such as the schema ErrorMessage), and each operation
    gets a unique ``operationId`` made of its method and path (``get_v2_models_NAME_ready``)."""
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, Any]] = []
    for piece in parts:
        if not piece:
            continue
        tags.extend(piece.get("tags", []))
        for path, item in piece.get("paths", {}).items():
            if path in paths:
                raise ValueError(f"{path} is described by two protocols")
            paths[path] = item
        for kind, named in piece.get("components", {}).items():
            merged = components.setdefault(kind, {})
            for name, component in named.items():
                if merged.setdefault(name, component) != component:
                    raise ValueError(f"two protocols define the {kind} {name} differently")
    used: set[str] = set()
    for path, item in paths.items():
        for method, operation in item.items():
            base = re.sub(r"[^A-Za-z0-9]+", "_", f"{method}{path}").strip("_")
            name, count = base, 1
            while name in used:
                count += 1
                name = f"{base}_{count}"
            used.add(name)
            item[method] = {**operation, "operationId": name}
    return {
        "openapi": OPENAPI,
        "info": {"title": "modelserve", "version": __version__, "description": DESCRIPTION},
        "tags": tags,
        "paths": paths,
        "components": components,
    }


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s</title>
<link rel="stylesheet" href="%(ui)s/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="%(ui)s/swagger-ui-bundle.js"></script>
<script>
window.onload = function () {
  window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true});
};
</script>
</body>
</html>
"""


class OpenApiHandler(ProtocolHandler):
    """``/openapi.json``: the merged document of the handlers' routes and its own; ``/docs``: Swagger UI."""

    protocol = "openapi"

    def __init__(self, handlers: Sequence[ProtocolHandler]):
        super().__init__(handlers[0].plane, handlers[0].settings)
        self.document = merge([*(handler.openapi() for handler in handlers), self.openapi()])
        self._document = orjson.dumps(self.document)
        title = f"modelserve: {self.plane.component.name}"
        self._page = (DOCS_PAGE % {"title": _html(title), "ui": SWAGGER_UI}).encode()

    def http_routes(self) -> list[HttpRoute]:
        return [
            HttpRoute(DOCUMENT_PATH, ("GET",), self._document_endpoint),
            HttpRoute(DOCS_PATH, ("GET",), self._docs_endpoint),
        ]

    def openapi(self) -> Part:
        return part("docs", self.http_routes())

    async def _document_endpoint(self, request: HttpRequest) -> Response:
        return 200, JSON, self._document

    async def _docs_endpoint(self, request: HttpRequest) -> Response:
        return 200, b"text/html; charset=utf-8", self._page


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
