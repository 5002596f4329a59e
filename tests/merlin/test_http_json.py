"""merlin-pyfunc-server in HTTP_JSON mode: real processes, real MLflow models, plain HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx

from tests.conftest import free_port, wait_for
from tests.merlin.conftest import SERVER_VARIABLES

JSON_UTF8 = "application/json; charset=UTF-8"


def test_artifact_model_over_http(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("iris")
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    answer = httpx.post(server.predict_url, json={"instances": rows})
    assert answer.status_code == 200 and answer.headers["content-type"] == JSON_UTF8
    assert answer.json() == {"predictions": [0, 2]}


def test_routes_and_errors_in_merlins_format(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("echo")
    with httpx.Client(base_url=server.url) as client:
        for body in (b"[1, 2]", b'"text"', b"null", b'{"a": {"b": [1.5, null]}}'):
            answer = client.post(f"/v1/models/{server.full_name}:predict", content=body)  # no content type: JSON anyway
            assert (answer.status_code, answer.content) == (200, body.replace(b", ", b",").replace(b": ", b":"))
        alive = client.get("/")
        assert (alive.status_code, alive.text, alive.headers["content-type"]) == (
            200,
            "Alive",
            "text/html; charset=UTF-8",
        )
        assert client.get("/v1/models/echo-1").json() == {"name": "echo-1", "ready": True}
        missing = client.post("/v1/models/nope:predict", json={})
        assert (missing.status_code, missing.json()) == (
            404,
            {"status_code": 404, "reason": "Model with full name nope does not exist."},
        )
        wrong = client.put("/v1/models/echo-1:predict", json={})
        assert (wrong.status_code, wrong.json()) == (405, {"status_code": 405, "reason": "Method Not Allowed"})
        bad = client.post("/v1/models/echo-1:predict", content=b"{'a': 1}")
        assert bad.status_code == 400 and bad.json()["reason"].startswith("Unrecognized request format: ")


def test_user_errors(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("error")
    expected = {
        "value_error": (500, "Internal Server Error"),
        "http_422": (422, "custom reason"),
        "http_503": (503, "Service Unavailable"),
        "return_set": (500, "Internal Server Error"),
    }
    with httpx.Client() as client:
        for action, (status, reason) in expected.items():
            answer = client.post(server.predict_url, json={"action": action})
            assert answer.status_code == status and answer.json() == {"status_code": status, "reason": reason}
        assert client.post(server.predict_url, json={"action": "ok"}).json() == {"ok": True}
    assert "boom" in server.output()  # the failure is logged with the model's message


def test_contracts_over_http(merlin_server) -> None:  # type: ignore[no-untyped-def]
    v3 = merlin_server("v3")
    assert httpx.post(v3.predict_url, json={"instances": [[1, 2]], "session_id": "s"}).json() == {
        "sums": [3],
        "row_ids": ["0"],
        "session": "s",
    }
    headers = merlin_server("headers")
    answer = httpx.post(headers.predict_url, json={"q": 1}, headers={"x-request-id": "r-1", "X-MiXeD": "m"}).json()
    assert answer["body"] == {"q": 1}
    assert answer["headers"]["X-Request-Id"] == "r-1" and answer["headers"]["X-Mixed"] == "m"
    legacy = merlin_server("legacy")
    assert httpx.post(legacy.predict_url, json=[1]).json() == {"legacy": True, "request": [1]}
    plain = merlin_server("plain")
    answer = httpx.post(plain.predict_url, json={"a": 1}).json()
    assert answer["input"] == {"a": 1} and answer["keys"] == ["__EXTRA_ARGS__", "__INPUT__"]
    coroutine = merlin_server("async")
    assert httpx.post(coroutine.predict_url, json=7).json() == {"async": True, "request": 7}


def test_workers_are_distinct_processes_and_metrics_are_merged(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("metrics", "HTTP_JSON", env={"WORKERS": "2"})
    pids = set()
    plain = merlin_server("plain", "HTTP_JSON", env={"WORKERS": "2"})
    for _ in range(30):
        with httpx.Client() as client:  # a new connection each time
            pids.add(client.post(plain.predict_url, json={}).json()["pid"])
            assert client.post(server.predict_url, json={}).json() == {"counted": True}
    assert len(pids) == 2
    metrics = httpx.get(f"{server.url}/metrics").text
    # the model's own counter, summed over both workers, next to the built-in request metrics
    assert re.search(r'^pyfunc_test_predictions_total\{protocol="http"\} 30\.0$', metrics, re.M), metrics
    total = (
        r'^modelserve_requests_total\{endpoint="/v1/models/metrics-1:predict",protocol="http-json",'
        r'status="200",transport="rest"\} 30\.0$'
    )
    assert re.search(total, metrics, re.M), metrics
    openmetrics = httpx.get(f"{server.url}/metrics", headers={"Accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert "# TYPE pyfunc_test_predictions counter" in openmetrics.text


def test_modelserve_serve_model_dir_and_a_clean_stop(pyfunc_models) -> None:  # type: ignore[no-untyped-def]
    """``modelserve serve --model-dir`` is the same server; SIGTERM stops it with status 0."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_VARIABLES)}
    env.update(CARAML_HTTP_PORT=str(port), CARAML_MODEL_FULL_NAME="echo-1")
    command = [
        sys.executable,
        "-m",
        "modelserve",
        "serve",
        "--model-dir",
        str(pyfunc_models["echo"]),
        "--host",
        "127.0.0.1",
    ]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/models/echo-1:predict"
        answers: list[httpx.Response] = []

        def answered() -> bool:
            try:
                answers.append(httpx.post(url, json=[1]))
            except httpx.TransportError:
                return False
            return True

        assert wait_for(answered, timeout=60)
        assert answers[-1].json() == [1]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
