"""MLflow pyfunc models: which contract a model follows, and how its user calls are made.

Contract detection is pure logic on classes; the calls use the real MLflow models of
tests/models/pyfunc, saved by the ``pyfunc_models`` fixture and loaded with MLflow here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelserve.errors import ServingError, StartupError, UserCodeError
from modelserve.model import pyfunc
from modelserve.model.pyfunc import INFER, UPIV1_INFER, PyFuncComponent, UserHTTPError, detect, load_component

# -- contract detection (classes named like merlin-sdk's and MLflow's bases)


class PythonModel:
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return None


class PyFuncModel(PythonModel):
    def infer(self, request: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("infer is not implemented")

    def upiv1_infer(self, request: Any, context: Any) -> Any:
        raise NotImplementedError("upiv1_infer is not implemented")


class PyFuncV3Model(PythonModel):
    def preprocess(self, request: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def ml_predict(self, model_input: Any) -> Any:
        raise NotImplementedError

    def postprocess(self, model_output: Any, request: Any) -> Any:
        raise NotImplementedError


class PyFuncV2Model(PythonModel):
    def infer(self, model_input: Any) -> Any:
        return model_input


class MerlinModel(PyFuncModel):
    def infer(self, request: Any, **kwargs: Any) -> Any:
        return request


class MerlinV3(PyFuncV3Model):
    def preprocess(self, request: Any, **kwargs: Any) -> Any:
        return request

    def ml_predict(self, model_input: Any) -> Any:
        return model_input

    def postprocess(self, model_output: Any, request: Any) -> Any:
        return model_output


class DuckV3(PythonModel):
    def preprocess(self, request: Any) -> Any:
        return request

    def infer(self, model_input: Any) -> Any:
        return model_input

    def postprocess(self, model_output: Any, request: Any) -> Any:
        return model_output


class DuckInfer(PythonModel):
    def infer(self, request: Any) -> Any:
        return request


class UpiOnly(PythonModel):
    def upiv1_infer(self, request: Any, context: Any) -> Any:
        return request


class OldSdk:
    def predict(self, model_input: Any, **kwargs: Any) -> Any:
        return model_input


class Batch(PyFuncV2Model):
    pass


class Plain(PythonModel):
    pass


@pytest.mark.parametrize(
    ("user_class", "contract"),
    [
        (MerlinModel, "infer"),
        (PyFuncModel, "infer"),
        (DuckInfer, "infer"),
        (UpiOnly, "infer"),
        (MerlinV3, "v3"),
        (DuckV3, "v3"),
        (OldSdk, "legacy"),
        (Batch, "predict"),
        (Plain, "predict"),
    ],
)
def test_contract_by_duck_typing(user_class: type, contract: str) -> None:
    assert detect(user_class()) == contract


def test_other_flavours_go_through_predict() -> None:
    assert detect(None) == "predict"


def test_tornado_shaped_http_errors_keep_their_status() -> None:
    class HTTPError(Exception):
        def __init__(self, status_code: int, log_message: str | None = None, reason: str | None = None):
            self.status_code, self.log_message, self.reason = status_code, log_message, reason

    error = pyfunc.user_error(HTTPError(422, reason="custom reason"))
    assert isinstance(error, UserHTTPError) and error.status_code == 422 and error.message == "custom reason"
    error = pyfunc.user_error(HTTPError(400, "log message %s"))
    assert error.status_code == 400 and error.message == "Bad Request"
    cause = ValueError("boom")
    error = pyfunc.user_error(cause)
    assert type(error) is UserCodeError and error.status_code == 500 and error.__cause__ is cause


def test_unknown_signatures_fall_back_to_no_headers_for_good() -> None:
    calls = []

    def infer(request: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if kwargs:
            raise TypeError("infer() got an unexpected keyword argument 'headers'")
        return request

    call = pyfunc._headers_fallback(infer)
    assert call({"a": 1}, {"h": "1"}) == {"a": 1}
    assert call({"a": 2}, {"h": "1"}) == {"a": 2}
    assert calls == [{"headers": {"h": "1"}}, {}, {}]


# -- loading and calling real MLflow models


def run(coroutine: Any) -> Any:
    """The data of the Outcome a user call answers."""
    return asyncio.run(coroutine).data


@pytest.fixture(scope="module")
def components(pyfunc_models: dict[str, Path]) -> dict[str, PyFuncComponent]:
    loaded = {name: load_component(str(path)) for name, path in pyfunc_models.items()}
    yield loaded
    for component in loaded.values():
        component.close()


def upi_request(**fields: Any) -> Any:
    from caraml.upi.v1 import upi_pb2

    return upi_pb2.PredictValuesRequest(**fields)


def test_contracts_of_the_saved_models(components: dict[str, PyFuncComponent]) -> None:
    assert {name: c.contract for name, c in components.items()} == {
        "echo": "infer",
        "iris": "infer",
        "v3": "v3",
        "error": "infer",
        "headers": "infer",
        "metrics": "infer",
        "plain": "predict",
        "legacy": "infer",
        "async": "infer",
    }
    assert set(components["echo"].user_calls()) == {INFER, UPIV1_INFER}


def test_echo_over_both_protocols(components: dict[str, PyFuncComponent]) -> None:
    echo = components["echo"]
    assert echo.user.initialized  # its load_context ran initialize()
    calls = echo.user_calls()
    assert run(calls[INFER]([1, {"a": None}], {})) == [1, {"a": None}]
    request = upi_request(target_name="t", prediction_table={"name": "x", "rows": [{"row_id": "r1"}]})
    request.metadata.prediction_id = "p-1"
    answer = run(calls[UPIV1_INFER](request, None))
    assert answer.target_name == "t" and answer.prediction_result_table.rows[0].row_id == "r1"
    assert answer.metadata.prediction_id == "p-1"


def test_artifact_loaded_by_initialize(components: dict[str, PyFuncComponent]) -> None:
    iris = components["iris"].user_calls()
    answer = run(iris[INFER]({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}, {}))
    assert answer == {"predictions": [0, 2]}
    from caraml.upi.v1 import type_pb2

    table = {
        "name": "in",
        "columns": [{"name": c, "type": type_pb2.TYPE_DOUBLE} for c in "abcd"],
        "rows": [{"row_id": "x", "values": [{"double_value": v} for v in (6.7, 3.0, 5.2, 2.3)]}],
    }
    answer = run(iris[UPIV1_INFER](upi_request(prediction_table=table), None))
    assert [(r.row_id, r.values[0].integer_value) for r in answer.prediction_result_table.rows] == [("x", 2)]


def test_v3_chain(components: dict[str, PyFuncComponent]) -> None:
    v3 = components["v3"]
    answer = run(v3.user_calls()[INFER]({"instances": [[1, 2], [3, 4.5]], "session_id": "s"}, {}))
    assert answer == {"sums": [3, 7.5], "row_ids": ["0", "1"], "session": "s"}
    assert v3.user.calls[-3:] == ["preprocess", "infer", "postprocess"]
    request = upi_request(
        prediction_table={"rows": [{"row_id": "a", "values": [{"double_value": 1}, {"integer_value": 2}]}]}
    )
    answer = run(v3.user_calls()[UPIV1_INFER](request, None))
    assert [(r.row_id, r.values[0].double_value) for r in answer.prediction_result_table.rows] == [("a", 3.0)]


def test_user_errors(components: dict[str, PyFuncComponent]) -> None:
    infer = components["error"].user_calls()[INFER]
    with pytest.raises(UserCodeError) as raised:
        run(infer({"action": "value_error"}, {}))
    assert raised.value.status_code == 500 and isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(UserHTTPError) as http_error:
        run(infer({"action": "http_422"}, {}))
    assert (http_error.value.status_code, http_error.value.message) == (422, "custom reason")
    with pytest.raises(UserHTTPError) as http_error:
        run(infer({"action": "http_503"}, {}))
    assert (http_error.value.status_code, http_error.value.message) == (503, "Service Unavailable")
    assert run(infer({"action": "ok"}, {})) == {"ok": True}
    with pytest.raises(ServingError) as upi_error:
        run(components["error"].user_calls()[UPIV1_INFER](upi_request(target_name="value_error"), None))
    assert str(upi_error.value.__cause__) == "boom"


def test_headers_reach_infer(components: dict[str, PyFuncComponent]) -> None:
    answer = run(components["headers"].user_calls()[INFER]({"q": 1}, {"X-Request-Id": "r"}))
    assert answer == {"body": {"q": 1}, "headers": {"X-Request-Id": "r"}}


def test_infer_without_keywords_gets_no_headers(components: dict[str, PyFuncComponent]) -> None:
    legacy = components["legacy"].user_calls()
    assert run(legacy[INFER]({"a": 1}, {"X-A": "1"})) == {"legacy": True, "request": {"a": 1}}
    with pytest.raises(ServingError) as missing:
        run(legacy[UPIV1_INFER](upi_request(), None))
    assert isinstance(missing.value.__cause__, NotImplementedError)
    assert str(missing.value.__cause__) == "upiv1_infer is not implemented"


def test_plain_pyfunc_gets_merlins_dict(components: dict[str, PyFuncComponent]) -> None:
    plain = components["plain"].user_calls()
    answer = run(plain[INFER]({"a": 1}, {"X-A": "1"}))
    assert answer["input"] == {"a": 1} and answer["has_headers"]
    assert answer["keys"] == ["__EXTRA_ARGS__", "__INPUT__"]
    assert run(plain[UPIV1_INFER](upi_request(target_name="tn"), None)).target_name == "tn"


def test_async_methods_are_awaited(components: dict[str, PyFuncComponent]) -> None:
    calls = components["async"].user_calls()
    assert run(calls[INFER](5, {})) == {"async": True, "request": 5}
    assert run(calls[UPIV1_INFER](upi_request(), None)).target_name == "async"


def test_calls_run_on_the_loop_or_in_the_pool(pyfunc_models: dict[str, Path]) -> None:
    component = load_component(str(pyfunc_models["plain"]))
    try:
        assert run(component.user_calls()[INFER]({}, {}))["thread"] == "MainThread"  # before set_threads
        component.set_threads(4)
        assert component.concurrency == 4
        assert run(component.user_calls()[INFER]({}, {}))["thread"].startswith("user-call")
        component.set_threads(4, serial=True)
        assert component.concurrency == 1
        assert run(component.user_calls()[INFER]({}, {}))["thread"] == "user-call-0"  # always the same one
        component.set_threads(4, on_loop=True)  # --user-calls-on-loop
        assert run(component.user_calls()[INFER]({}, {}))["thread"] == "MainThread"
    finally:
        component.close()


def test_prometheus_metrics_of_user_code(components: dict[str, PyFuncComponent]) -> None:
    from prometheus_client import REGISTRY

    calls = components["metrics"].user_calls()
    before = REGISTRY.get_sample_value("pyfunc_test_predictions_total", {"protocol": "http"}) or 0
    run(calls[INFER]({}, {}))
    run(calls[INFER]({}, {}))
    assert REGISTRY.get_sample_value("pyfunc_test_predictions_total", {"protocol": "http"}) == before + 2


@pytest.mark.parametrize(
    ("setup", "culprit"),
    [
        ("missing", "no such directory"),
        ("empty", "no MLmodel file"),
        ("broken", "loading the MLflow model"),
    ],
)
def test_load_failures_are_one_line(tmp_path: Path, setup: str, culprit: str) -> None:
    model_dir = tmp_path / "model"
    if setup != "missing":
        model_dir.mkdir()
    if setup == "broken":
        (model_dir / "MLmodel").write_text(
            "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n    python_model: python_model.pkl\n"
        )
        (model_dir / "python_model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(StartupError, match=culprit) as raised:
        load_component(str(model_dir))
    assert "\n" not in str(raised.value)


def test_loading_leaves_one_thread_for_the_fork(pyfunc_models: dict[str, Path]) -> None:
    """The supervisor loads the model, then forks: no thread of MLflow's (telemetry) may run."""
    script = (
        "import os, sys, threading\n"
        "from modelserve.model.pyfunc import load_component\n"
        "load_component(sys.argv[1])\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert os.environ['MLFLOW_DISABLE_TELEMETRY'] == 'true'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_DISABLE_TELEMETRY"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(pyfunc_models["iris"])], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
