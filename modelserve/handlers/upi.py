"""Merlin's UPI_V1 protocol: ``caraml.upi.v1.UniversalPredictionService/PredictValues``.

The request, decoded into the classes the model builds its answer with (``codecs/upi.py``),
goes to the model's ``upiv1_infer(request, context)``; its ``PredictValuesResponse`` is the
answer.  ``context`` is a ``UpiContext``: what a grpc ``ServicerContext`` offers a
synchronous method (``invocation_metadata``, ``abort``, ``set_code``, ``set_details``...),
usable from the user-call threads.

As in Merlin's server, an exception of the model answers UNKNOWN, its details
``Unexpected <class '...'>: message``; ``context.abort(code, details)`` and
``set_code``/``set_details`` answer the code and details the model chose.
"""

from __future__ import annotations

from typing import Any

from modelserve.codecs import upi
from modelserve.dataplane import DataPlane
from modelserve.errors import ServingError, UserCodeError
from modelserve.handlers.contract import ProtocolHandler, RpcMethod
from modelserve.model.pyfunc import UPIV1_INFER
from modelserve.settings import Settings


class UpiAbort(ServingError):
    """The model aborted the call with a gRPC code of its choice."""

    status_code = 400

    def __init__(self, code: Any, details: str):
        super().__init__(details or "")
        self.rpc_code = getattr(code, "name", None) or str(code)


class UpiContext:
    """The call context a model's ``upiv1_infer`` gets (``grpc.ServicerContext``'s synchronous API)."""

    __slots__ = ("_code", "_context", "_details", "_trailing")

    def __init__(self, context: Any):
        self._context = context
        self._code: Any = None
        self._details = ""
        self._trailing: Any = None

    def invocation_metadata(self) -> Any:
        return self._context.invocation_metadata() if self._context is not None else ()

    def abort(self, code: Any, details: str = "") -> None:
        raise UpiAbort(code, details)

    def abort_with_status(self, status: Any) -> None:
        raise UpiAbort(status.code, getattr(status, "details", ""))

    def set_code(self, code: Any) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> Any:
        return self._code

    def details(self) -> str:
        return self._details

    def set_trailing_metadata(self, metadata: Any) -> None:
        self._trailing = tuple(metadata)

    def __getattr__(self, name: str) -> Any:  # peer(), time_remaining(), auth_context()...
        return getattr(self._context, name)

    def finish(self) -> None:
        """After the model answered: its trailing metadata, or the failure it set."""
        if self._trailing is not None and self._context is not None:
            self._context.set_trailing_metadata(self._trailing)
        code = self._code
        if code is not None and getattr(code, "name", code) != "OK":
            raise UpiAbort(code, self._details)


class UpiHandler(ProtocolHandler):
    protocol = "upi-v1"

    def __init__(self, plane: DataPlane, settings: Settings):
        super().__init__(plane, settings)
        self._infer = plane.user_call(UPIV1_INFER)
        self.request_class, _ = upi.user_classes()

    def rpc_methods(self) -> list[RpcMethod]:
        return [RpcMethod(upi.SERVICE, upi.METHOD, self.request_class, self._predict_values)]

    async def _predict_values(self, request: Any, context: Any) -> bytes:
        call_context = UpiContext(context)
        try:
            outcome = await self._infer(request, call_context)
            call_context.finish()
            return upi.encode(outcome.data)
        except UserCodeError as error:
            # the model's exception: UNKNOWN with what it said, as Merlin's server answered
            error.rpc_code = "UNKNOWN"
            error.message = upi.exception_details(error.__cause__ or error)
            raise
