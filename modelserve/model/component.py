"""The adapter around a user's object: which optional methods it has, how to call them.

What the class offers is decided once, when the model is loaded; a request only looks
up a prepared callable.  Plain methods run on ``--threads`` user threads (``threads.py``),
off the event loop (``--user-calls-on-loop``: on it); ``async def`` methods are awaited
on the loop.  Any exception from user code becomes a
``ServingError`` (see ``errors.from_user_exception``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelserve.errors import (
    BAD_METRIC,
    NotImplementedByModel,
    ServingError,
    from_user_exception,
    is_not_implemented_signal,
)
from modelserve.metrics.recorder import check_metric_names
from modelserve.model.threads import UserThreads

logger = logging.getLogger(__name__)

# The verbs of the user-class contract, by the name of the user's method.
PREDICT = "predict"
TRANSFORM_INPUT = "transform_input"
TRANSFORM_OUTPUT = "transform_output"
ROUTE = "route"
AGGREGATE = "aggregate"
SEND_FEEDBACK = "send_feedback"
HEALTH_STATUS = "health_status"
VERBS = (PREDICT, TRANSFORM_INPUT, TRANSFORM_OUTPUT, ROUTE, AGGREGATE, SEND_FEEDBACK, HEALTH_STATUS)
EXPLAIN = "explain"  # KServe V1 :explain
RAW = "_raw"  # suffix of a verb's raw method: predict_raw takes the protocol's own message
# The verbs that take (X, names, meta) and fall back when the class lacks them.
_INVOKED = (PREDICT, TRANSFORM_INPUT, TRANSFORM_OUTPUT, ROUTE, HEALTH_STATUS)

# The ``method`` label the original gives custom metrics of each verb.
METRIC_METHOD_TAG = {
    PREDICT: "predict",
    TRANSFORM_INPUT: "inputtransform",
    TRANSFORM_OUTPUT: "outputtransform",
    ROUTE: "router",
    AGGREGATE: "aggregate",
    SEND_FEEDBACK: "feedback",
    HEALTH_STATUS: "health",
}

METRIC_TYPES = ("COUNTER", "GAUGE", "TIMER")

Method = Callable[..., Any]
UserCall = Callable[..., Awaitable[Any]]


class SeldonResponse:
    """What a user method may return to add tags and metrics to one answer.

    Models written for the original return ``seldon_core.user_model.SeldonResponse``;
    any object of a class with this name and these attributes is accepted.
    """

    def __init__(self, data: Any, tags: dict[str, Any] | None = None, metrics: list[dict[str, Any]] | None = None):
        self.data = data
        self.tags = tags or {}
        self.metrics = metrics or []


@dataclass(slots=True)
class Outcome:
    """A user call's answer with the tags and custom metrics that go with it."""

    data: Any
    tags: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)


class Component:
    """A user's object, with its optional methods resolved once."""

    def __init__(self, user: Any, user_threads: int = 1, serial: bool = False):
        self.user = user
        self.name = type(user).__name__
        self._methods = {verb: _user_method(user, verb) for verb in VERBS}
        self._raw_methods = {verb: _user_method(user, verb + "_raw") for verb in VERBS}
        self._takes_meta = {verb: _accepts_keyword(fn, "meta") for verb, fn in self._methods.items()}
        # predict(X) without names (plain models, e.g. written for V2 servers) gets X alone.
        self._x_only = {verb: _positional_limit(fn) == 1 for verb, fn in self._methods.items()}
        self._metrics = _user_method(user, "metrics")
        self._tags = _user_method(user, "tags")
        self._load = _user_method(user, "load")
        self._explain = _user_method(user, EXPLAIN)
        self._class_names_is_method = callable(getattr(user, "class_names", None))
        self._has_class_names = hasattr(user, "class_names")
        # The threads of plain methods are made by set_threads in a serving process (after
        # the fork: a supervisor must not hold threads); until then calls run on the loop.
        self._threads: UserThreads | None = None
        self._probe_thread: UserThreads | None = None  # health_status: never behind other calls
        self.concurrency = 1 if serial else max(1, user_threads)  # user calls that may run at once
        # --single-threaded: plain methods run on one thread; this lock keeps async ones
        # from interleaving at their awaits.
        self._serial = asyncio.Lock() if serial else None
        self._coroutine_methods: dict[Method, bool] = {}

    # -- what the class offers

    def has(self, verb: str) -> bool:
        """Whether the class has the method behind ``verb`` (``predict``, ``predict_raw``, ``explain``...)."""
        if verb.endswith(RAW):
            return self._raw_methods.get(verb[: -len(RAW)]) is not None
        if verb == EXPLAIN:
            return self._explain is not None
        return self._methods[verb] is not None

    def user_calls(self) -> dict[str, UserCall]:
        """Every call the data plane can make, by verb; each answers an ``Outcome`` (a raw
        verb: ``None`` when its method declines, for the protocol's decoded path)."""
        calls: dict[str, UserCall] = {verb: functools.partial(self.invoke, verb) for verb in _INVOKED}
        calls[AGGREGATE] = self.aggregate
        calls[SEND_FEEDBACK] = self.send_feedback
        calls[EXPLAIN] = self.explain
        for verb, method in self._raw_methods.items():
            if method is not None:
                calls[verb + RAW] = functools.partial(self.call_raw, verb)
        return calls

    def has_async_methods(self) -> bool:
        """Whether any of the class's serving methods is ``async def``."""
        methods = (*self._methods.values(), *self._raw_methods.values(), self._explain)
        return any(self._is_async(method) for method in methods if method is not None)

    def takes_meta(self, verb: str) -> bool:
        return self._takes_meta[verb]

    def raw_method(self, verb: str) -> Method | None:
        return self._raw_methods[verb]

    def user_method(self, name: str) -> Method | None:
        return _user_method(self.user, name)

    # -- calling user code

    def load(self) -> None:
        """Run the class's ``load()``; errors stop the start-up."""
        if self._load is None:
            return
        try:
            self._load()
        except (NotImplementedError, AttributeError):
            pass  # the original ignores these two in load()

    async def call(self, method: Method, *args: Any, **kwargs: Any) -> Any:
        """Run a user method the configured way; user exceptions become ServingErrors."""
        return await self.run_on(self._threads, method, args, kwargs)

    async def run_on(
        self, threads: UserThreads | None, method: Method, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """``call`` with plain methods on ``threads`` (None: the user threads, or the loop)."""
        try:
            if self._is_async(method):
                if self._serial is None:
                    return await method(*args, **kwargs)
                async with self._serial:
                    return await method(*args, **kwargs)
            threads = threads or self._threads
            if threads is None:
                return method(*args, **kwargs)
            return await threads.call(method, *args, **kwargs)
        except ServingError:
            raise
        except Exception as error:
            raise _user_failure(error) from error

    def _is_async(self, method: Method) -> bool:
        known = self._coroutine_methods.get(method)
        if known is None:
            known = self._coroutine_methods[method] = inspect.iscoroutinefunction(method)
        return known

    async def invoke(self, verb: str, X: Any, names: list[str], meta: dict[str, Any] | None) -> Outcome:
        """A high-level verb (predict, transform_*, route, health_status) with its fallback."""
        method = self._methods[verb]
        data: Any
        if method is None:
            return self.outcome(verb, _fallback(verb, X))
        if verb == HEALTH_STATUS:
            args: tuple[Any, ...] = ()
        elif self._x_only[verb]:
            args = (X,)
        else:
            args = (X, names)
        kwargs = {"meta": meta} if self._takes_meta[verb] else {}
        try:
            if self._threads is None and not self._is_async(method):
                # On the loop (--user-calls-on-loop): kept free of extra awaits.
                try:
                    data = method(*args, **kwargs)
                except ServingError:
                    raise
                except Exception as error:
                    raise _user_failure(error) from error
            elif verb == HEALTH_STATUS:
                data = await self.run_on(self._probe_thread, method, args, kwargs)
            else:
                data = await self.call(method, *args, **kwargs)
        except _NotImplementedSignal:
            data = _fallback(verb, X)
        return self.outcome(verb, data)

    async def aggregate(self, features: list[Any], names: list[list[str]]) -> Outcome:
        method = self._methods[AGGREGATE]
        try:
            if method is None:
                raise _NotImplementedSignal()
            data = await self.call(method, features, names)
        except _NotImplementedSignal:
            raise NotImplementedByModel("Aggregate not defined") from None
        return self.outcome(AGGREGATE, data)

    async def send_feedback(
        self, features: Any, names: list[str], reward: float, truth: Any, routing: int | None
    ) -> Outcome:
        method = self._methods[SEND_FEEDBACK]
        data = None
        if method is not None:
            try:
                data = await self.call(method, features, names, reward, truth, routing=routing)
            except _NotImplementedSignal:
                data = None
        return self.outcome(SEND_FEEDBACK, data)

    async def call_raw(self, verb: str, message: Any = None) -> Outcome | None:
        """The answer of the verb's ``*_raw`` method to the protocol's own message, as it is
        (its tags and metrics are the protocol's business); None when it declines.
        ``health_status_raw`` takes no message."""
        method = self._raw_methods[verb]
        if method is None:
            return None
        try:
            if verb == HEALTH_STATUS:
                return Outcome(await self.run_on(self._probe_thread, method, (), {}))
            return Outcome(await self.call(method, message))
        except _NotImplementedSignal:
            return None

    async def explain(self, X: Any, names: list[str]) -> Outcome:
        """The class's ``explain(X, names)`` (KServe V1 ``:explain``)."""
        if self._explain is None:
            raise NotImplementedByModel("Explain not defined")
        return Outcome(await self.call(self._explain, X, names))

    # -- what goes with an answer

    def outcome(self, verb: str, data: Any) -> Outcome:
        if self._tags is None and self._metrics is None and type(data).__name__ != "SeldonResponse":
            return Outcome(data)
        tags: dict[str, Any] = {}
        metrics: list[dict[str, Any]] = []
        if type(data).__name__ == "SeldonResponse" and hasattr(data, "data"):
            metrics = list(getattr(data, "metrics", None) or [])
            runtime_tags = getattr(data, "tags", None) or {}
            data = data.data
        else:
            runtime_tags = {}
        if self._tags is not None:
            tags.update(self._user_tags())
        tags.update(runtime_tags)
        if self._metrics is not None:
            metrics = self._user_metrics() + metrics
        if metrics:
            metrics = label_metrics(metrics, METRIC_METHOD_TAG[verb])
        return Outcome(data, tags, metrics)

    def class_names(self, array: np.ndarray) -> list[str]:
        """Output names of a 2-D or larger answer: class_names, else t:0 .. t:n-1."""
        if array.ndim < 2:
            return []
        if self._has_class_names:
            try:
                names = self.user.class_names() if self._class_names_is_method else self.user.class_names
            except Exception as error:
                if not is_not_implemented_signal(error):
                    raise from_user_exception(error) from error
            else:
                return list(names)
        return default_names(array.shape[1])

    def _user_tags(self) -> dict[str, Any]:
        try:
            tags = self._tags() if self._tags is not None else {}
        except Exception as error:
            if is_not_implemented_signal(error):
                return {}
            raise from_user_exception(error) from error
        return dict(tags or {})

    def _user_metrics(self) -> list[dict[str, Any]]:
        try:
            metrics = self._metrics() if self._metrics is not None else []
        except Exception as error:
            if is_not_implemented_signal(error):
                return []
            raise from_user_exception(error) from error
        return list(metrics or [])

    def set_threads(self, user_threads: int, serial: bool = False, on_loop: bool = False) -> None:
        """How user calls run in this process (after a fork): plain methods on ``user_threads``
        threads (one with ``serial``), or on the event loop itself with ``on_loop``."""
        self.close()
        count = 1 if serial else max(1, user_threads)
        self._threads = None if on_loop else UserThreads(count)
        if self._threads is not None and not serial and self._methods[HEALTH_STATUS] is not None:
            # A health check must not wait behind long user calls (--single-threaded: one thread for all).
            self._probe_thread = UserThreads(1, "health-status")
        self._serial = asyncio.Lock() if serial else None
        self.concurrency = count

    def run_in_thread(self) -> None:
        """Plain methods run off the event loop even with --user-calls-on-loop (batching needs
        the loop to take requests while the model computes)."""
        if self._threads is None:
            self._threads = UserThreads(self.concurrency)

    def oldest_call_start(self) -> float | None:
        """When the longest-running plain user call started (time.monotonic), if one runs."""
        starts = [t.oldest_start() for t in (self._threads, self._probe_thread) if t is not None]
        running = [start for start in starts if start is not None]
        return min(running) if running else None

    @property
    def queued(self) -> int:
        """Calls waiting for a user thread."""
        return self._threads.queued if self._threads is not None else 0

    def close(self) -> None:
        for threads in (self._threads, self._probe_thread):
            if threads is not None:
                threads.close()
        self._threads = self._probe_thread = None


class _NotImplementedSignal(Exception):
    """The user method declined (SeldonNotImplementedError): use the fallback."""


def _user_failure(error: Exception) -> Exception:
    if is_not_implemented_signal(error):
        return _NotImplementedSignal()
    failure = from_user_exception(error)
    failure.__cause__ = error
    return failure


def _fallback(verb: str, X: Any) -> Any:
    if verb == PREDICT:
        return []
    if verb in (TRANSFORM_INPUT, TRANSFORM_OUTPUT):
        return X
    if verb == HEALTH_STATUS:
        return "healthy"
    if verb == ROUTE:
        raise NotImplementedByModel("Route not defined")
    raise NotImplementedByModel(f"{verb} not defined")


def validate_metrics(metrics: Any) -> None:
    """The custom-metric dicts of the wrapper contract; anything else is a 500 BAD_METRIC."""
    if not isinstance(metrics, list):
        raise ServingError(f"Bad metric created during request: {metrics!r}", 500, BAD_METRIC)
    for metric in metrics:
        if (
            not isinstance(metric, dict)
            or not isinstance(metric.get("key"), str)
            or not metric["key"]
            or metric.get("type") not in METRIC_TYPES
            or not _is_number(metric.get("value"))
            or not isinstance(metric.get("tags", {}), dict)
        ):
            raise ServingError(f"Bad metric created during request: {metric!r}", 500, BAD_METRIC)
        problem = check_metric_names(metric)
        if problem is not None:
            raise ServingError(f"Bad metric created during request: {problem}", 500, BAD_METRIC)


def label_metrics(metrics: list[dict[str, Any]], method_tag: str) -> list[dict[str, Any]]:
    """Validated copies; a metric's own tags gain the ``method`` it was reported for."""
    validate_metrics(metrics)
    labelled = []
    for metric in metrics:
        if "tags" in metric:
            metric = {**metric, "tags": {**metric["tags"], "method": method_tag}}
        labelled.append(metric)
    return labelled


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


# The default names t:0, t:1, ... built once up to the widest answer seen (at most
# _MAX_CACHED_NAMES, about 70 MB at the limit, no more than formatting them once for
# each answer of that width would take): a 1 x 10,000 answer otherwise spends most of its
# time formatting names (at 1 x 100,000, a limit of 65,536 made Seldon gRPC 7x and REST 4x
# slower; the gRPC codec also keeps their encoding while the strings are the same).
_MAX_CACHED_NAMES = 1 << 20
_default_names: list[str] = []


# Wide answers (WIDE_NAMES to _MAX_SHARED_NAMES columns) share one list per width, which no
# code changes: copying 10,000 names costs 25 us, and the JSON codec writes a shared list
# from its cached encoding (codecs/seldon.py, ``dumps``) instead of 10,000 strings (70 us).
WIDE_NAMES = 256
_MAX_SHARED_NAMES = 1 << 16
_MAX_SHARED_WIDTHS = 16


class DefaultNames(list[str]):
    """t:0 .. t:n-1 of a wide answer, shared by every answer of that width: never changed."""

    __slots__ = ()


_shared_names: dict[int, DefaultNames] = {}


def default_names(n: int) -> list[str]:
    global _default_names
    if WIDE_NAMES <= n <= _MAX_SHARED_NAMES:
        shared = _shared_names.get(n)
        if shared is None:
            if len(_shared_names) >= _MAX_SHARED_WIDTHS:
                _shared_names.clear()
            shared = _shared_names[n] = DefaultNames(f"t:{i}" for i in range(n))
        return shared
    if n > len(_default_names):
        if n > _MAX_CACHED_NAMES:
            return [f"t:{i}" for i in range(n)]
        _default_names = [f"t:{i}" for i in range(min(max(n, 2 * len(_default_names)), _MAX_CACHED_NAMES))]
    return _default_names[:n]


def _user_method(user: Any, name: str) -> Method | None:
    """The user's bound method, or None when absent or only the wrapper base class's stub."""
    method = getattr(user, name, None)
    if method is None or not callable(method):
        return None
    qualname = getattr(getattr(method, "__func__", method), "__qualname__", "")
    if qualname.startswith("SeldonComponent."):
        return None
    return method


def _accepts_keyword(method: Method | None, name: str) -> bool:
    if method is None:
        return False
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any((p.name == name and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD for p in params)


def _positional_limit(method: Method | None) -> int | None:
    """How many positional arguments (but ``meta``) a method takes at most (None: any number, or unknown)."""
    if method is None:
        return None
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "meta":  # meta goes by keyword
            count += 1
    return count
