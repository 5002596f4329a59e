"""An MLflow pyfunc model served the way Merlin's PyFunc server serves it.

The model directory is loaded with ``mlflow.pyfunc.load_model`` (MLflow is imported
here only, when a model directory is served), which unpickles the user's
``PythonModel`` and runs its ``load_context`` (merlin-sdk's calls ``initialize(artifacts)``).
What the unwrapped object offers is then decided once, by duck typing on its method
names (merlin-sdk need not be installed):

========== ============================================== ===========================================
contract   the user's object has                           a request calls
========== ============================================== ===========================================
``v3``     ``preprocess``/``postprocess`` and ``infer`` or  ``preprocess(body, headers=)`` ->
           ``ml_predict`` (merlin's ``PyFuncV3Model``)      ``infer(model_input)`` -> ``postprocess(out,
                                                           body)``; UPI: the ``upiv1_*`` pair around it
``infer``  ``infer`` (merlin's ``PyFuncModel``)             ``infer(body, headers=)`` (``infer(body)``
                                                           when it takes no keywords);
                                                           UPI: ``upiv1_infer(request, context)``
``legacy`` ``predict(model_input, **kwargs)`` (merlin-sdk   ``predict(body, headers=)``
           < 0.16)
``predict`` any other pyfunc (``PythonModel.predict(context,  ``predict`` with the dict Merlin builds:
           model_input)``, merlin's ``PyFuncV2Model``,      ``{"__INPUT__": body, "__EXTRA_ARGS__":
           other flavours)                                  {"headers": ...}}`` (UPI: ``__PROTOCOL__``,
                                                           ``__GRPC_CONTEXT__``); a ``PyFuncOutput``
                                                           answer is unwrapped
========== ============================================== ===========================================

A data plane gets these as ``PyFuncComponent.user_calls()``: ``{"infer": async (body,
headers), "upiv1_infer": async (request, context)}``, each answering an ``Outcome`` of what
the user's code returned.  Calls run on the event loop when one user call at a time is allowed, in a thread
pool of ``user_threads`` otherwise; ``async def`` methods are awaited.  A user's exception
becomes a ``ServingError`` (its ``__cause__`` is the exception): an exception shaped like
tornado's ``HTTPError`` (``status_code``, ``log_message``, ``reason``) is a ``UserHTTPError``
with that status, anything else goes through ``errors.from_user_exception``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import http.client
import inspect
import logging
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from modelserve.errors import ServingError, StartupError, UserCodeError, from_user_exception
from modelserve.model.component import Outcome
from modelserve.model.threads import UserThreads

logger = logging.getLogger(__name__)

# The user calls a data plane makes, by name.
INFER = "infer"
UPIV1_INFER = "upiv1_infer"

# The contracts (see the module docstring).
V3 = "v3"
INFER_CONTRACT = "infer"
LEGACY = "legacy"
PREDICT = "predict"

# The keys of the dict Merlin hands to a pyfunc's predict().
INPUT_KEY = "__INPUT__"
EXTRA_ARGS_KEY = "__EXTRA_ARGS__"
PROTOCOL_KEY = "__PROTOCOL__"
GRPC_CONTEXT_KEY = "__GRPC_CONTEXT__"

# Base classes whose methods are stubs, not the user's code (merlin-sdk's and MLflow's, or
# stand-ins of the same names).
_BASE_CLASSES = frozenset({"PyFuncModel", "PyFuncV2Model", "PyFuncV3Model", "PythonModel", "object"})

UserCall = Callable[..., Awaitable[Any]]


class Protocol(enum.StrEnum):
    """``merlin.protocol.Protocol`` for models that compare ``__PROTOCOL__`` without merlin-sdk."""

    HTTP_JSON = "HTTP_JSON"
    UPI_V1 = "UPI_V1"


class UserHTTPError(UserCodeError):
    """The user raised an HTTP error with a status of its choice (tornado's ``HTTPError``)."""


def load_pyfunc(model_dir: str) -> Any:
    """``mlflow.pyfunc.load_model(model_dir)``; every failure is a one-line StartupError."""
    path = Path(model_dir)
    if not path.is_dir():
        raise StartupError(f"--model-dir {model_dir}: no such directory")
    if not (path / "MLmodel").is_file():
        raise StartupError(f"--model-dir {model_dir}: no MLmodel file, not an MLflow model directory")
    # A server does not report usage, and MLflow's telemetry thread must not exist before the fork.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow.pyfunc
    except ImportError as error:
        raise StartupError(
            f"serving an MLflow model needs MLflow ({error}): pip install 'modelserve[mlflow]'"
        ) from None
    started = time.perf_counter()
    try:
        loaded = mlflow.pyfunc.load_model(str(path))
    except Exception as error:
        logger.debug("loading %s failed:\n%s", model_dir, traceback.format_exc())
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise StartupError(
            f"loading the MLflow model in {model_dir} failed: {type(error).__name__}: {message}"
        ) from None
    logger.info("loaded the MLflow model in %s in %.3fs", model_dir, time.perf_counter() - started)
    return loaded


def unwrap(loaded: Any) -> Any:
    """The user's ``PythonModel`` inside a loaded pyfunc, or None for other flavours."""
    impl = getattr(loaded, "_model_impl", None)
    python_model = getattr(impl, "python_model", None)
    if python_model is None:
        python_model = getattr(loaded, "python_model", None)  # MLflow <= 1.8 loaded the wrapper itself
    return python_model


def artifacts_of(loaded: Any) -> dict[str, str]:
    context = getattr(getattr(loaded, "_model_impl", None), "context", None)
    return dict(getattr(context, "artifacts", None) or {})


def detect(python_model: Any) -> str:
    """Which contract the user's object follows (see the module docstring)."""
    if python_model is None:
        return PREDICT
    classes = {cls.__name__ for cls in type(python_model).__mro__}
    if "PyFuncV2Model" in classes or _own(python_model, "raw_infer"):
        return PREDICT  # batch-only: the original serves it through predict() too
    if "PyFuncV3Model" in classes or (
        _own(python_model, "preprocess")
        and _own(python_model, "postprocess")
        and (_own(python_model, "ml_predict") or _own(python_model, "infer"))
    ):
        return V3
    if "PyFuncModel" in classes or _has(python_model, "infer") or _has(python_model, "upiv1_infer"):
        return INFER_CONTRACT
    predict = getattr(python_model, "predict", None)
    if predict is not None and _positional_count(predict) == 1:
        return LEGACY
    return PREDICT


class PyFuncComponent:
    """An MLflow model directory, loaded by ``load()``, with its user calls prepared once."""

    def __init__(self, model_dir: str, user_threads: int = 1, serial: bool = False):
        self.model_dir = model_dir
        self.loaded: Any = None
        self.user: Any = None
        self.contract = ""
        self.name = os.path.basename(os.path.normpath(model_dir)) or model_dir
        # Threads are made by set_threads in a serving process (after the fork); until then
        # calls run on the loop.
        self._threads: UserThreads | None = None
        self._serial: asyncio.Lock | None = asyncio.Lock() if serial else None
        self.concurrency = 1 if serial else max(1, user_threads)
        self._calls: dict[str, UserCall] = {}
        self._async = False
        self._protocols: tuple[Any, Any] = (Protocol.HTTP_JSON, Protocol.UPI_V1)

    def load(self) -> None:
        """Load the model (once) and prepare its calls; failures are one-line StartupErrors."""
        if self.loaded is None:
            self.adopt(load_pyfunc(self.model_dir))

    def adopt(self, loaded: Any) -> None:
        """Serve an already loaded pyfunc model."""
        self.loaded = loaded
        self.user = unwrap(loaded)
        self.contract = detect(self.user)
        self.name = type(self.user).__name__ if self.user is not None else type(loaded).__name__
        self._initialize_duck_typed()
        self._protocols = _protocol_values()
        builders = {V3: self._v3, INFER_CONTRACT: self._infer, LEGACY: self._legacy, PREDICT: self._predict}
        infer, upiv1_infer = builders[self.contract]()
        self._calls = {INFER: self._wrap(infer), UPIV1_INFER: self._wrap(upiv1_infer)}
        logger.info("serving %s as a pyfunc model (%s contract)", self.name, self.contract)

    def has(self, verb: str) -> bool:
        return verb in self._calls

    def has_async_methods(self) -> bool:
        """Whether the model's infer or upiv1_infer (or a step of them) is ``async def``."""
        return self._async

    def user_calls(self) -> dict[str, UserCall]:
        """``{"infer": async (body, headers), "upiv1_infer": async (request, context)}``, each
        answering an ``Outcome`` whose data is what the user's code returned."""
        if not self._calls:
            raise RuntimeError("the pyfunc model is not loaded yet")
        return dict(self._calls)

    # -- the contracts: (infer, upiv1_infer) as plain or async callables

    def _infer(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        user = self.user
        infer = _method(user, "infer") or _not_implemented("infer")
        takes_headers = _accepts_keyword(infer, "headers")
        if takes_headers is None:  # cannot tell: try with headers, fall back for good on the TypeError
            infer = _headers_fallback(infer)
            takes_headers = True
        return (_with_headers(infer, takes_headers), _method(user, "upiv1_infer") or _not_implemented("upiv1_infer"))

    def _v3(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        user = self.user
        predict = _method(user, "ml_predict") if _own(user, "ml_predict") else None
        predict = predict or _method(user, "infer") or _method(user, "ml_predict") or _not_implemented("infer")
        preprocess = _method(user, "preprocess") or _not_implemented("preprocess")
        postprocess = _method(user, "postprocess") or _not_implemented("postprocess")
        upi_pre = _method(user, "upiv1_preprocess") or _not_implemented("upiv1_preprocess")
        upi_post = _method(user, "upiv1_postprocess") or _not_implemented("upiv1_postprocess")
        takes_headers = _accepts_keyword(preprocess, "headers") is not False
        pre = _with_headers(preprocess, takes_headers)
        return _chain(pre, predict, postprocess), _chain(upi_pre, predict, upi_post)

    def _legacy(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        predict = self.user.predict
        takes_headers = _accepts_keyword(predict, "headers") is not False
        return (
            _with_headers(predict, takes_headers),
            _method(self.user, "upiv1_infer") or _not_implemented("upiv1_infer"),
        )

    def _predict(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        predict = self.loaded.predict
        upi_v1 = self._protocols[1]

        def infer(body: Any, headers: dict[str, str]) -> Any:
            # as the original: no __PROTOCOL__ key (merlin-sdk's predict() takes HTTP_JSON then)
            answer = predict({INPUT_KEY: body, EXTRA_ARGS_KEY: {"headers": headers}})
            return _unwrap_output(answer, "http_response")

        def upiv1_infer(request: Any, context: Any) -> Any:
            answer = predict({PROTOCOL_KEY: upi_v1, INPUT_KEY: request, GRPC_CONTEXT_KEY: context})
            return _unwrap_output(answer, "upi_response")

        return infer, upiv1_infer

    def _initialize_duck_typed(self) -> None:
        """A class with merlin's methods on a plain PythonModel: its ``initialize`` runs here."""
        user = self.user
        if user is None or self.contract == PREDICT or not _own(user, "initialize"):
            return
        loader = _defining_class(user, "load_context")
        if loader is not None and not (loader.__name__ == "PythonModel" and loader.__module__.startswith("mlflow")):
            return  # its own load_context (merlin-sdk's calls initialize) already ran in load_model
        try:
            user.initialize(artifacts_of(self.loaded))
        except Exception as error:
            logger.debug("initialize failed:\n%s", traceback.format_exc())
            raise StartupError(f"{self.name}.initialize() raised {type(error).__name__}: {error}") from None

    # -- calling user code

    def _wrap(self, fn: Callable[..., Any]) -> UserCall:
        if inspect.iscoroutinefunction(fn):
            self._async = True

            async def call_async(*args: Any) -> Any:
                try:
                    if self._serial is None:
                        return Outcome(await fn(*args))
                    async with self._serial:
                        return Outcome(await fn(*args))
                except ServingError:
                    raise
                except Exception as error:
                    raise user_error(error) from error

            return call_async

        async def call(*args: Any) -> Any:
            try:
                if self._threads is None:
                    return Outcome(fn(*args))
                return Outcome(await self._threads.call(fn, *args))
            except ServingError:
                raise
            except Exception as error:
                raise user_error(error) from error

        return call

    def set_threads(self, user_threads: int, serial: bool = False, on_loop: bool = False) -> None:
        """How user calls run in this process (after a fork): plain methods on ``user_threads``
        threads (one with ``serial``), off the event loop, or on the loop itself with ``on_loop``."""
        self.close()
        count = 1 if serial else max(1, user_threads)
        self._threads = None if on_loop else UserThreads(count)
        self._serial = asyncio.Lock() if serial else None
        self.concurrency = count

    def run_in_thread(self) -> None:
        """Plain methods run off the event loop even with --user-calls-on-loop."""
        if self._threads is None:
            self._threads = UserThreads(self.concurrency)

    def oldest_call_start(self) -> float | None:
        """When the longest-running plain user call started (time.monotonic), if one runs."""
        return self._threads.oldest_start() if self._threads is not None else None

    @property
    def queued(self) -> int:
        return self._threads.queued if self._threads is not None else 0

    def close(self) -> None:
        if self._threads is not None:
            self._threads.close()
            self._threads = None


def load_component(model_dir: str, user_threads: int = 1, serial: bool = False) -> PyFuncComponent:
    component = PyFuncComponent(model_dir, user_threads, serial)
    component.load()
    return component


def user_error(error: BaseException) -> ServingError:
    """The ServingError for an exception of user code (see the module docstring)."""
    if isinstance(error, ServingError):
        return error
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and hasattr(error, "log_message"):
        reason = getattr(error, "reason", None) or http.client.responses.get(status, "Unknown")
        failure: ServingError = UserHTTPError(str(reason), status if 100 <= status <= 599 else 500)
    else:
        failure = from_user_exception(error)
    failure.__cause__ = error
    return failure


# -- helpers


def _defining_class(obj: Any, name: str) -> type | None:
    for cls in type(obj).__mro__:
        if name in vars(cls):
            return cls
    return None


def _own(obj: Any, name: str) -> bool:
    """The method is the user's, not a base class's stub."""
    cls = _defining_class(obj, name)
    return cls is not None and cls.__name__ not in _BASE_CLASSES and callable(getattr(obj, name, None))


def _has(obj: Any, name: str) -> bool:
    return callable(getattr(obj, name, None))


def _method(obj: Any, name: str) -> Callable[..., Any] | None:
    method = getattr(obj, name, None)
    return method if callable(method) else None


def _not_implemented(name: str) -> Callable[..., Any]:
    """What merlin-sdk's base classes do for a method the user did not write."""

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name} is not implemented")

    return missing


def _accepts_keyword(fn: Callable[..., Any], name: str) -> bool | None:
    """Whether ``fn`` takes the keyword ``name`` (or ``**kwargs``); None when it cannot be told."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return any((p.name == name and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD for p in params)


def _positional_count(fn: Callable[..., Any]) -> int | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


def _with_headers(fn: Callable[..., Any], takes_headers: bool) -> Callable[..., Any]:
    """``fn(body, headers)`` as the user's ``fn(body, headers=headers)`` or ``fn(body)``."""
    if inspect.iscoroutinefunction(fn):
        if takes_headers:

            async def async_with(body: Any, headers: dict[str, str]) -> Any:
                return await fn(body, headers=headers)

            return async_with

        async def async_without(body: Any, headers: dict[str, str]) -> Any:
            return await fn(body)

        return async_without
    if takes_headers:

        def with_headers(body: Any, headers: dict[str, str]) -> Any:
            return fn(body, headers=headers)

        return with_headers

    def without_headers(body: Any, headers: dict[str, str]) -> Any:
        return fn(body)

    return without_headers


def _headers_fallback(fn: Callable[..., Any]) -> Callable[..., Any]:
    """merlin-sdk's rule when the signature is unknown: a TypeError about the keyword drops it for good."""
    state = {"headers": True}

    @functools.wraps(fn)
    def call(body: Any, headers: dict[str, str] | None = None) -> Any:
        if state["headers"]:
            try:
                return fn(body, headers=headers)
            except TypeError as error:
                if "unexpected keyword argument" not in str(error):
                    raise
                state["headers"] = False
        return fn(body)

    return call


def _chain(first: Callable[..., Any], middle: Callable[..., Any], last: Callable[..., Any]) -> Callable[..., Any]:
    """V3: ``last(middle(first(request, extra)), request)``, in one user call."""
    if not any(inspect.iscoroutinefunction(f) for f in (first, middle, last)):

        def chain(request: Any, extra: Any) -> Any:
            return last(middle(first(request, extra)), request)

        return chain

    async def chain_async(request: Any, extra: Any) -> Any:
        model_input = await _resolve(first(request, extra))
        model_output = await _resolve(middle(model_input))
        return await _resolve(last(model_output, request))

    return chain_async


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _unwrap_output(answer: Any, attribute: str) -> Any:
    """merlin-sdk's predict() answers a PyFuncOutput: the protocol's part of it."""
    if type(answer).__name__ == "PyFuncOutput" and hasattr(answer, attribute):
        return getattr(answer, attribute)
    return answer


def _protocol_values() -> tuple[Any, Any]:
    """The ``__PROTOCOL__`` values: merlin-sdk's enum when the model imported it, else ours."""
    merlin_protocol = sys.modules.get("merlin.protocol")
    protocol = getattr(merlin_protocol, "Protocol", None)
    if protocol is not None and hasattr(protocol, "HTTP_JSON") and hasattr(protocol, "UPI_V1"):
        return protocol.HTTP_JSON, protocol.UPI_V1
    return Protocol.HTTP_JSON, Protocol.UPI_V1
