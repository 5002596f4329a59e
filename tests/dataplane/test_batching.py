"""The batcher on a real event loop over a real Component (tests/models/BatchSizeModel.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import numpy as np
import pytest

from modelserve.dataplane import DataPlane
from modelserve.dataplane.batching import Batcher
from modelserve.errors import ServingError
from modelserve.model import build_model
from modelserve.model.component import PREDICT, TRANSFORM_INPUT, Component, Outcome, SeldonResponse
from modelserve.settings import Settings
from tests.conftest import RunningServer
from tests.grpc.conftest import GrpcProcess
from tests.models.BatchSizeModel import AsyncBatchSizeModel, BatchSizeModel, MetaBatchSizeModel


def make(
    model: Any = None, size: int = 4, wait: float = 0.005, threads: int = 1
) -> tuple[Any, Batcher, list[tuple[int, float]]]:
    model = BatchSizeModel(0) if model is None else model
    batches: list[tuple[int, float]] = []
    component = Component(model, threads)
    batcher = Batcher(
        component, size, wait, component.user_calls()[PREDICT], lambda n, queued: batches.append((n, queued))
    )
    return model, batcher, batches


def rows(*values: float) -> np.ndarray:
    return np.array([[v, 0.0] for v in values])


async def predict_all(batcher: Batcher, inputs: list[Any], names: list[str] | None = None) -> list[Any]:
    calls = [batcher.predict(X, names or [], None) for X in inputs]
    return await asyncio.gather(*calls, return_exceptions=True)


def test_concurrent_requests_merge_into_one_call_and_split_back() -> None:
    model, batcher, batches = make(size=8)
    answers = asyncio.run(predict_all(batcher, [rows(1), rows(2, 3), rows(4), rows(5, 6, 7)]))
    assert model.calls == [7]
    assert batches[0][0] == 4
    assert [a.data.tolist() for a in answers] == [
        [[1, 7]],
        [[2, 7], [3, 7]],
        [[4, 7]],
        [[5, 7], [6, 7], [7, 7]],
    ]
    # tags go to every answer, the call's custom metrics once (with the first request's answer)
    assert all(a.tags == {"model": "batch-size"} for a in answers)
    assert [len(a.metrics) for a in answers] == [1, 0, 0, 0]


def test_a_batch_never_exceeds_the_max_size() -> None:
    model, batcher, batches = make(BatchSizeModel(0.005), size=8)
    inputs = [rows(i) for i in range(21)]
    answers = asyncio.run(predict_all(batcher, inputs))
    assert sum(model.calls) == 21 and max(model.calls) == 8
    assert all(size <= 8 for size, _ in batches)
    assert [a.data[0, 0] for a in answers] == list(range(21))


def test_requests_that_cannot_merge_run_alone() -> None:
    model, batcher, _ = make(size=8)
    inputs: list[Any] = [
        rows(1),
        np.array([[2.0, 0.0, 0.0]]),  # another trailing shape
        np.array([[3, 0]]),  # another dtype
        np.array(["a", "b"]),  # strings: merge with strings only
        np.array(["ccc"]),
        {"json": 1},  # not an array
        "text",
        np.array([{"x": 1}], dtype=object),  # object arrays never merge
        np.zeros((0, 2)),  # no rows
        np.float64(5),  # no first axis
        rows(9),
    ]
    answers = asyncio.run(predict_all(batcher, inputs))
    assert not [a for a in answers if isinstance(a, BaseException)], answers
    assert answers[0].data.tolist() == [[1, 2]] and answers[-1].data.tolist() == [[9, 2]]
    assert answers[1].data.tolist() == [[2, 1]]
    assert answers[2].data.tolist() == [[3, 1]]
    assert answers[3].data.tolist() == ["a", "b"] and answers[4].data.tolist() == ["ccc"]
    assert answers[5].data == {"json": 1} and answers[6].data == "text"
    # two floats (merged), the strings (merged), and every other request alone
    assert sorted(model.calls) == sorted([2, 1, 1, 3, 1, 1, 1, 0, 1])


def test_different_names_do_not_merge() -> None:
    model, batcher, _ = make(size=8)

    async def main() -> list[Outcome]:
        return await asyncio.gather(
            batcher.predict(rows(1), ["a", "b"], None),
            batcher.predict(rows(2), ["a", "c"], None),
            batcher.predict(rows(3), ["a", "b"], None),
        )

    answers = asyncio.run(main())
    assert sorted(model.calls) == [1, 2]
    assert [a.data[0, 0] for a in answers] == [1, 2, 3]


def test_a_request_with_meta_runs_alone_when_predict_takes_meta() -> None:
    model, batcher, _ = make(MetaBatchSizeModel(0), size=8)

    async def main() -> list[Outcome]:
        return await asyncio.gather(
            batcher.predict(rows(1), [], {"puid": "p1"}),
            batcher.predict(rows(2), [], None),
            batcher.predict(rows(3), [], {}),
        )

    answers = asyncio.run(main())
    assert sorted(model.calls) == [1, 2]
    assert [a.data.tolist() for a in answers] == [[[1, 1]], [[2, 2]], [[3, 2]]]
    # a model without meta= merges them whatever their meta
    model, batcher, _ = make(size=8)

    async def without_meta() -> list[Outcome]:
        return await asyncio.gather(
            batcher.predict(rows(1), [], {"puid": "p1"}), batcher.predict(rows(2), [], {"puid": "p2"})
        )

    asyncio.run(without_meta())
    assert model.calls == [2]


def test_an_error_fails_only_the_requests_of_its_batch() -> None:
    _model, batcher, _ = make(size=2)
    answers = asyncio.run(predict_all(batcher, [rows(-1), rows(1), rows(2), rows(3)]))
    failed, ok = answers[:2], answers[2:]
    assert all(isinstance(a, ServingError) and a.status_code == 500 for a in failed)
    assert all("poisoned batch" in str(a) for a in failed)
    assert failed[0] is not failed[1]  # each request raises its own error
    assert isinstance(failed[0].__cause__, ValueError)
    assert [a.data.tolist() for a in ok] == [[[2, 2]], [[3, 2]]]
    # and the batcher keeps serving
    assert asyncio.run(predict_all(batcher, [rows(4)]))[0].data.tolist() == [[4, 1]]


def test_an_answer_without_one_row_per_input_row_fails_that_batch() -> None:
    _model, batcher, _ = make(size=2)
    answers = asyncio.run(predict_all(batcher, [rows(-2), rows(1), rows(2)]))
    for failed in answers[:2]:
        assert isinstance(failed, ServingError) and failed.status_code == 500
        assert "got 2 rows merged from 2 requests" in failed.message
        assert "one row per input row" in failed.message
    assert answers[2].data.tolist() == [[2, 1]]
    # alone, a request gets whatever predict answers, as without batching
    assert asyncio.run(predict_all(batcher, [rows(-2)]))[0].data.shape == (0, 2)


def test_list_answers_are_split_with_numpy() -> None:
    class ListModel:
        def predict(self, X: Any, names: Any) -> Any:
            return [[float(x[0]), "row"] for x in X]

    _, batcher, _ = make(ListModel(), size=4)
    answers = asyncio.run(predict_all(batcher, [rows(1), rows(2)]))
    assert [a.data.tolist() for a in answers] == [[["1.0", "row"]], [["2.0", "row"]]]


def test_runtime_tags_and_metrics_of_a_batched_call() -> None:
    class Responding:
        def predict(self, X: Any, names: Any) -> Any:
            metric = {"type": "TIMER", "key": "t", "value": 1.5}
            return SeldonResponse(X * 2, tags={"rows": len(X)}, metrics=[metric])

    _, batcher, _ = make(Responding(), size=4)
    answers = asyncio.run(predict_all(batcher, [rows(1), rows(2), rows(3)]))
    assert [a.data.tolist() for a in answers] == [[[2, 0]], [[4, 0]], [[6, 0]]]
    assert [a.tags for a in answers] == [{"rows": 3}] * 3
    assert answers[0].tags is not answers[1].tags
    assert [a.metrics for a in answers] == [[{"type": "TIMER", "key": "t", "value": 1.5}], [], []]


def test_a_cancelled_request_is_left_out() -> None:
    model, batcher, _ = make(size=4)

    async def main() -> list[Any]:
        calls = [asyncio.ensure_future(batcher.predict(rows(i), [], None)) for i in range(3)]
        await asyncio.sleep(0)  # queued
        calls[1].cancel()  # its client went away
        return await asyncio.gather(*calls, return_exceptions=True)

    answers = asyncio.run(main())
    assert model.calls == [2]
    assert isinstance(answers[1], asyncio.CancelledError)
    assert [answers[0].data.tolist(), answers[2].data.tolist()] == [[[0, 2]], [[2, 2]]]


def test_a_lone_request_on_an_idle_model_does_not_wait() -> None:
    _model, batcher, batches = make(size=8, wait=2.0)
    started = time.perf_counter()
    answer = asyncio.run(predict_all(batcher, [rows(1)]))[0]
    assert time.perf_counter() - started < 1.0
    assert answer.data.tolist() == [[1, 1]]
    assert batches[0][0] == 1 and batches[0][1] < 0.5


async def later(delay: float, batcher: Batcher, X: np.ndarray) -> Outcome:
    await asyncio.sleep(delay)
    return await batcher.predict(X, [], None)


def test_while_busy_a_batch_goes_when_the_oldest_has_waited_the_max_time() -> None:
    # an async model: calls may overlap, one slot
    model, batcher, batches = make(AsyncBatchSizeModel(0.6), size=8, wait=0.1)

    async def main() -> list[Outcome]:
        return await asyncio.gather(batcher.predict(rows(1), [], None), later(0.05, batcher, rows(2)))

    asyncio.run(main())
    assert [size for size, _ in batches] == [1, 1]
    assert 0.09 <= batches[1][1] < 0.4  # sent at its deadline, not when the first call ended (0.6 s)
    assert model.most_at_once == 2


def test_while_busy_at_most_one_timed_out_batch_per_slot_waits_in_line() -> None:
    model, batcher, batches = make(AsyncBatchSizeModel(0.6), size=8, wait=0.05)

    async def main() -> list[Outcome]:
        return await asyncio.gather(
            batcher.predict(rows(1), [], None), later(0.01, batcher, rows(2)), later(0.15, batcher, rows(3))
        )

    cpu = time.process_time()
    answers = asyncio.run(main())
    assert time.process_time() - cpu < 0.1  # the third waits for a call to end without spinning
    assert [size for size, _ in batches] == [1, 1, 1]
    assert batches[1][1] < 0.4  # handed over at its deadline, while the first call ran
    assert batches[2][1] >= 0.3  # not before a call ended: one batch was already in line
    assert model.most_at_once == 2
    assert [a.data.tolist() for a in answers] == [[[1, 1]], [[2, 1]], [[3, 1]]]


def test_while_busy_a_full_batch_goes_at_once() -> None:
    _model, batcher, batches = make(AsyncBatchSizeModel(0.5), size=4, wait=5.0)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.predict(rows(0), [], None))
        await asyncio.sleep(0.05)
        return [first, *(await asyncio.gather(*(batcher.predict(rows(i), [], None) for i in range(1, 5))))]

    answers = asyncio.run(main())
    assert [size for size, _ in batches] == [1, 4]
    assert batches[1][1] < 0.3
    assert [a.data.tolist() for a in answers[1:]] == [[[i, 4]] for i in range(1, 5)]


def test_while_busy_a_batch_goes_when_a_slot_frees() -> None:
    model, batcher, batches = make(AsyncBatchSizeModel(0.2), size=8, wait=5.0)

    async def main() -> list[Outcome]:
        return await asyncio.gather(
            batcher.predict(rows(1), [], None), later(0.05, batcher, rows(2)), later(0.05, batcher, rows(3))
        )

    started = time.perf_counter()
    answers = asyncio.run(main())
    assert time.perf_counter() - started < 2.0  # never the 5 s max time
    assert [size for size, _ in batches] == [1, 2]
    assert [a.data.tolist() for a in answers] == [[[1, 1]], [[2, 2]], [[3, 2]]]
    assert model.most_at_once == 1


def test_several_batches_run_at_once_with_several_user_threads() -> None:
    model, batcher, _batches = make(BatchSizeModel(0.1), size=4, threads=2)
    answers = asyncio.run(predict_all(batcher, [rows(i) for i in range(16)]))
    assert model.calls == [4, 4, 4, 4]
    assert model.most_at_once == 2
    assert [a.data[0, 0] for a in answers] == list(range(16))


def test_the_data_plane_batches_predict_only_and_only_when_asked() -> None:
    name = "tests.models.BatchSizeModel.BatchSizeModel"
    plain = DataPlane(build_model(Settings(name)), Settings(name))
    assert plain.batcher is None  # the unbatched chain has no batching link
    settings = Settings(name, max_batch_size=4, parameters=[{"name": "delay", "value": "0", "type": "FLOAT"}])
    plane = DataPlane(build_model(settings), settings)
    assert plane.batcher is not None

    async def main() -> list[Outcome]:
        return await asyncio.gather(
            plane.call(PREDICT, rows(1), [], None),
            plane.call(PREDICT, rows(2), [], None),
            plane.call(TRANSFORM_INPUT, rows(3), [], None),
        )

    answers = asyncio.run(main())
    assert plane.component.user.calls == [2]
    assert answers[2].data.tolist() == [[3, 0]]  # transform_input: the fallback echo, never batched


@pytest.mark.parametrize("size", [0, 1])
def test_a_batcher_needs_two_or_more(size: int) -> None:
    with pytest.raises(ValueError):
        component = Component(BatchSizeModel(0))
        Batcher(component, size, 0.005, component.user_calls()[PREDICT])


# ---------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def batching_server() -> Iterator[GrpcProcess]:
    server = GrpcProcess("BatchSizeModel", max_batch_size=8, max_batch_time_ms=20, threads=1, grpc_threads=1)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def rest_predict(server: RunningServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + "/api/v1.0/predictions", json=body, timeout=30)


def concurrently(call: Callable[[Any], Any], inputs: list[Any]) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def test_rest_clients_get_merged_calls_and_their_own_answers(batching_server: GrpcProcess) -> None:
    answers = concurrently(lambda i: rest_predict(batching_server, {"data": {"ndarray": [[i, 0]]}}), list(range(16)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    data = [a.json()["data"]["ndarray"] for a in answers]
    assert [d[0][0] for d in data] == list(range(16))
    sizes = [d[0][1] for d in data]
    assert max(sizes) > 1 and max(sizes) <= 8
    assert all(a.json()["meta"]["tags"] == {"model": "batch-size"} for a in answers)


def test_rest_mismatched_requests_still_answer_correctly(batching_server: GrpcProcess) -> None:
    bodies: list[dict[str, Any]] = []
    for i in range(12):
        if i % 3 == 0:
            bodies.append({"data": {"ndarray": [[i, 0, 0]]}})  # three columns
        elif i % 3 == 1:
            bodies.append({"data": {"tensor": {"shape": [2, 2], "values": [i, 0, i, 0]}}})
        else:
            bodies.append({"strData": f"text {i}"})
    answers = concurrently(lambda body: rest_predict(batching_server, body), bodies)
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    for i, answer in enumerate(answers):
        body = answer.json()
        if i % 3 == 0:
            assert body["data"]["ndarray"][0][0] == i
        elif i % 3 == 1:
            values = body["data"]["tensor"]["values"]
            assert values[0] == i and values[2] == i and body["data"]["tensor"]["shape"] == [2, 2]
        else:
            assert body["strData"] == f"text {i}"


def test_rest_a_failing_batch_fails_only_its_requests(batching_server: GrpcProcess) -> None:
    values = [*range(1, 8), -1, *range(8, 16)]
    answers = concurrently(lambda v: rest_predict(batching_server, {"data": {"ndarray": [[v, 0]]}}), values)
    failed = [v for v, a in zip(values, answers, strict=True) if a.status_code != 200]
    assert -1 in failed and len(failed) <= 8
    for v, answer in zip(values, answers, strict=True):
        if v in failed:
            assert answer.status_code == 500
            assert answer.json()["status"]["info"] == "poisoned batch"
        else:
            assert answer.json()["data"]["ndarray"][0][0] == v
    assert len(failed) < len(values)
    after = rest_predict(batching_server, {"data": {"ndarray": [[42, 0]]}})  # the worker keeps serving
    assert after.status_code == 200 and after.json()["data"]["ndarray"] == [[42, 1]]


def test_grpc_clients_get_merged_calls_and_their_own_answers(batching_server: GrpcProcess) -> None:
    def call(i: int) -> Any:
        return batching_server.call_dict("Model", "Predict", {"data": {"tensor": {"shape": [1, 2], "values": [i, 0]}}})

    answers = concurrently(call, list(range(16)))
    values = [a["data"]["tensor"]["values"] for a in answers]
    assert [v[0] for v in values] == list(range(16))
    assert 1 < max(v[1] for v in values) <= 8


def test_grpc_a_failing_batch_fails_only_its_requests(batching_server: GrpcProcess) -> None:
    def call(v: int) -> Any:
        try:
            return batching_server.call_dict("Model", "Predict", {"data": {"ndarray": [[v, 0]]}})
        except grpc.RpcError as error:
            return error

    values = [*range(1, 8), -1, *range(8, 16)]
    answers = concurrently(call, values)
    failed = [v for v, a in zip(values, answers, strict=True) if isinstance(a, grpc.RpcError)]
    assert -1 in failed and 0 < len(failed) <= 8 < len(values)
    for v, answer in zip(values, answers, strict=True):
        if v in failed:
            assert answer.code() == grpc.StatusCode.INTERNAL and answer.details() == "poisoned batch"
        else:
            assert answer["data"]["ndarray"][0][0] == v
    assert call(7)["data"]["ndarray"] == [[7, 1]]
