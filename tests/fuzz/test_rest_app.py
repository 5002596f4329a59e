"""Any request to any route of the REST app (in process, as tests/rest drives it): whatever
the method, content type, query and body, the answer is not a 5xx and is in the route's
protocol format (a JSON error body for a refusal)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.fuzz.strategies import ANY_JSON, SELDON_MESSAGES, V1_REQUESTS, V2_REQUESTS, json_text
from tests.rest.conftest import AppClient


@pytest.fixture(scope="module")
def client() -> Iterator[AppClient]:
    made = AppClient("EveryMethodModel", "--model-name", "fuzzed", "--model-version", "3")
    yield made
    made.close()


def paths(client: AppClient) -> list[str]:
    app = client.app
    while not hasattr(app, "routes"):
        app = app.app
    return sorted(app.routes)


CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "text/plain", ""]
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.one_of(ANY_JSON, SELDON_MESSAGES, V2_REQUESTS, V1_REQUESTS).map(json_text),
    st.one_of(ANY_JSON, SELDON_MESSAGES).map(lambda m: b"json=" + json_text(m)),
)
QUERIES = st.one_of(st.just(""), st.text(max_size=30), SELDON_MESSAGES.map(lambda m: "json=" + json_text(m).decode()))


@given(data=st.data())
@settings(max_examples=examples(3), deadline=None)
def test_any_request_to_any_route(client: AppClient, data: st.DataObject) -> None:
    path = data.draw(st.one_of(st.sampled_from(paths(client)), st.sampled_from(["/v2/models/x/infer", "/v1/models/x"])))
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS"]))
    content_type, query, body = data.draw(CONTENT_TYPES), data.draw(QUERIES), data.draw(BODIES)
    headers = {"content-type": content_type} if content_type else {}
    if data.draw(st.booleans()):
        headers["inference-header-content-length"] = str(data.draw(st.integers(-5, len(body) + 5)))
    answer = client.request(method, path, params=query, content=body if method != "GET" else b"", headers=headers)
    assert answer.status_code < 500, f"{method} {path}?{query} {headers} {body[:300]!r}: {answer.text[:500]}"
    if answer.status_code >= 400:
        orjson.loads(answer.content)  # an error body in the protocol's JSON format
