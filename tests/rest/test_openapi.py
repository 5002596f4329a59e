"""/openapi.json and /docs: the document of every route the process serves, each protocol's
part merged (handlers/openapi.py); schemathesis calls a real server with it (tests/fuzz)."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from modelserve.handlers import openapi
from modelserve.handlers.contract import HttpRoute
from tests.rest.conftest import AppClient

CONFIGURATIONS = [
    ("IdentityModel",),
    ("ExplainModel", "--model-name", "iris", "--model-version", "2024-01"),
    ("RawModel", "--model-name", "raw"),
]


def served(client: AppClient) -> set[tuple[str, str]]:
    """(path, method) of every route the REST app serves."""
    app = client.app
    while not hasattr(app, "routes"):  # inside the access-log or tracing wrappers
        app = app.app
    return {(path, method.lower()) for path, methods in app.routes.items() for method in methods}


@pytest.mark.parametrize("flags", CONFIGURATIONS, ids=lambda flags: flags[0])
def test_the_document_describes_every_route_served_and_no_other(app: Any, flags: tuple[str, ...]) -> None:
    client = app(*flags)
    answer = client.get("/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    validate(document)  # a valid OpenAPI 3.0 document
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == served(client)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert {tag["name"] for tag in document["tags"]} == {"Seldon", "V2", "KServe V1", "Documentation"}


def test_the_served_name_and_version_are_in_the_paths(app: Any) -> None:
    client = app("ExplainModel", "--model-name", "iris", "--model-version", "2024-01")
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v2/models/iris/infer"]) == set(paths["/v2/models/iris/versions/2024-01/infer"]) == {"post"}
    assert set(paths["/v2/models/iris/ready"]) == {"get"}
    assert set(paths["/v1/models/iris:explain"]) == {"post"}
    paths = app("IdentityModel").get("/openapi.json").json()["paths"]
    assert "/v2/models/IdentityModel/infer" in paths and "/v1/models/IdentityModel:predict" in paths
    assert not any("/versions/" in path or path.endswith(":explain") for path in paths)


def test_the_docs_page_shows_the_document_with_swagger_ui(app: Any) -> None:
    page = app("IdentityModel").get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'url: "openapi.json"' in page.text and "swagger-ui-bundle.js" in page.text
    assert "<title>modelserve: IdentityModel</title>" in page.text


async def _endpoint(request: Any) -> Any:
    return 200, b"text/plain", b""


def test_a_route_missing_from_a_part_stops_the_start() -> None:
    with pytest.raises(ValueError, match="does not describe POST /v2/health/live"):
        openapi.part("v2", [HttpRoute("/v2/health/live", ("POST",), _endpoint)])


def test_parts_that_disagree_cannot_merge() -> None:
    one = {"paths": {"/a": {"get": {"responses": {}}}}, "components": {"schemas": {"S": {"type": "string"}}}}
    same_schema = {"paths": {"/b": {"get": {"responses": {}}}}, "components": {"schemas": {"S": {"type": "string"}}}}
    document = openapi.merge([one, same_schema])
    assert document["components"]["schemas"] == {"S": {"type": "string"}}
    assert [item["get"]["operationId"] for item in document["paths"].values()] == ["get_a", "get_b"]
    with pytest.raises(ValueError, match="two protocols"):
        openapi.merge([one, {"paths": {"/a": {}}}])
    with pytest.raises(ValueError, match="schemas S differently"):
        openapi.merge([one, {"paths": {}, "components": {"schemas": {"S": {"type": "integer"}}}}])
