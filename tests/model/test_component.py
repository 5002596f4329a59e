import asyncio

import numpy as np
import pytest

from modelserve.errors import BadRequest, ServingError
from modelserve.model.component import (
    PREDICT,
    ROUTE,
    TRANSFORM_INPUT,
    Component,
    DefaultNames,
    SeldonResponse,
    default_names,
)


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


class Plain:
    def predict(self, X, names):  # type: ignore[no-untyped-def]
        return X


class WithMeta:
    def predict(self, X, names, meta=None):  # type: ignore[no-untyped-def]
        return meta


class SeldonNotImplementedError(Exception):
    pass


class Declines:
    def predict(self, X, names):  # type: ignore[no-untyped-def]
        raise SeldonNotImplementedError()

    def transform_input(self, X, names):  # type: ignore[no-untyped-def]
        raise SeldonNotImplementedError()


def test_meta_is_passed_only_where_accepted() -> None:
    assert run(Component(Plain()).invoke(PREDICT, 1, [], {"a": 1})).data == 1
    assert run(Component(WithMeta()).invoke(PREDICT, 1, [], {"a": 1})).data == {"a": 1}


def test_fallbacks() -> None:
    empty = Component(object())
    assert run(empty.invoke(PREDICT, 1, [], None)).data == []
    assert run(empty.invoke(TRANSFORM_INPUT, "x", [], None)).data == "x"
    with pytest.raises(BadRequest, match="Route not defined"):
        run(empty.invoke(ROUTE, 1, [], None))
    with pytest.raises(BadRequest, match="Aggregate not defined"):
        run(empty.aggregate([], []))
    declines = Component(Declines())
    assert run(declines.invoke(PREDICT, 1, [], None)).data == []
    assert run(declines.invoke(TRANSFORM_INPUT, 2, [], None)).data == 2


def test_runtime_tags_and_metrics() -> None:
    class Model:
        def predict(self, X, names):  # type: ignore[no-untyped-def]
            return SeldonResponse(X, tags={"t": 1}, metrics=[{"type": "GAUGE", "key": "g", "value": 1, "tags": {}}])

        def tags(self):  # type: ignore[no-untyped-def]
            return {"t": 0, "u": 2}

    outcome = run(Component(Model()).invoke(PREDICT, 5, [], None))
    assert (outcome.data, outcome.tags) == (5, {"t": 1, "u": 2})
    assert outcome.metrics == [{"type": "GAUGE", "key": "g", "value": 1, "tags": {"method": "predict"}}]


@pytest.mark.parametrize(
    "metric",
    [
        {"key": "k", "type": "X", "value": 1},
        {"type": "GAUGE", "value": 1},
        {"key": "k", "type": "GAUGE", "value": "1"},
        "nope",
    ],
)
def test_bad_metrics_are_500(metric: object) -> None:
    class Model:
        def predict(self, X, names):  # type: ignore[no-untyped-def]
            return X

        def metrics(self):  # type: ignore[no-untyped-def]
            return [metric]

    with pytest.raises(ServingError) as failure:
        run(Component(Model()).invoke(PREDICT, 1, [], None))
    assert (failure.value.status_code, failure.value.reason) == (500, "MICROSERVICE_BAD_METRIC")


def test_class_names_attribute_method_and_default() -> None:
    class Attribute:
        class_names = ["a", "b"]

    class Method:
        def class_names(self):  # type: ignore[no-untyped-def]
            return ["m", "n"]

    two_d = np.zeros((1, 2))
    assert Component(Attribute()).class_names(two_d) == ["a", "b"]
    assert Component(Method()).class_names(two_d) == ["m", "n"]
    assert Component(object()).class_names(two_d) == ["t:0", "t:1"]
    assert Component(Attribute()).class_names(np.zeros(2)) == []


def test_user_exceptions() -> None:
    class Model:
        def predict(self, X, names):  # type: ignore[no-untyped-def]
            raise KeyError("missing")

    with pytest.raises(ServingError) as failure:
        run(Component(Model()).invoke(PREDICT, 1, [], None))
    assert failure.value.status_code == 500 and "missing" in failure.value.message


def test_threads_run_sync_methods_off_the_loop() -> None:
    import threading

    class Model:
        def predict(self, X, names):  # type: ignore[no-untyped-def]
            return threading.get_ident()

    async def both() -> tuple[int, int, int]:
        on_loop = Component(Model())
        on_loop.set_threads(1, on_loop=True)
        one, two = Component(Model()), Component(Model())
        one.set_threads(1)
        two.set_threads(2)
        try:
            return (
                (await on_loop.invoke(PREDICT, 1, [], None)).data,
                (await one.invoke(PREDICT, 1, [], None)).data,
                (await two.invoke(PREDICT, 1, [], None)).data,
            )
        finally:
            for component in (on_loop, one, two):
                component.close()

    inline, single, pooled = run(both())
    assert inline == threading.get_ident()  # --user-calls-on-loop
    assert single != threading.get_ident() and pooled != threading.get_ident()  # the default: user threads


class XOnly:
    def predict(self, X):  # type: ignore[no-untyped-def]
        return X * 2


class XOnlyWithMeta:
    def predict(self, X, meta=None):  # type: ignore[no-untyped-def]
        return meta


class StarArgs:
    def predict(self, *args):  # type: ignore[no-untyped-def]
        return len(args)


def test_predict_without_names_gets_x_alone() -> None:
    assert run(Component(XOnly()).invoke(PREDICT, np.array([1]), ["a"], None)).data.tolist() == [2]
    assert run(Component(XOnlyWithMeta()).invoke(PREDICT, 1, ["a"], {"k": 1})).data == {"k": 1}
    assert run(Component(StarArgs()).invoke(PREDICT, 1, ["a"], None)).data == 2


@pytest.mark.parametrize("width", [3, 255, 256, 10_000, 65_536, 65_537, 100_000, 1_000_000])
def test_default_names_are_formatted_once_per_width(width: int) -> None:
    """Wide answers reuse the names' strings (the gRPC codec keeps their encoding while they are the
    same objects); formatting 100,000 names on every answer took most of its time.  From 256 to
    65,536 columns every answer of a width shares one list, which the JSON codec writes from
    its cached encoding; the others get a list of their own."""
    first, second = default_names(width), default_names(width)
    assert first == [f"t:{i}" for i in range(width)]
    assert (first is second) == (256 <= width <= 65_536) == isinstance(first, DefaultNames)
    assert all(a is b for a, b in zip(first, second, strict=True))
