"""UPI v1 (``caraml.upi.v1``): the PredictValues messages of Merlin's gRPC protocol.

The messages are built from our own protos (``protos/caraml/upi/v1``, in ``protos.desc``).
A model's ``upiv1_infer`` usually builds its answer with the classes of the
``caraml-upi-protos`` package, and protobuf refuses to mix classes of two descriptor pools
in one message (``Response(prediction_result_table=request.prediction_table)``): so when
that package can be imported the request is decoded into its class, and ours are used
only without it.  Any ``PredictValuesResponse`` is accepted as the answer, whatever its pool.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from google.protobuf.message import DecodeError, Message

from modelserve.codecs import messages
from modelserve.errors import BadRequest, UserCodeError

logger = logging.getLogger(__name__)

PACKAGE = "caraml.upi.v1"
SERVICE = f"{PACKAGE}.UniversalPredictionService"
METHOD = "PredictValues"
REQUEST = f"{PACKAGE}.PredictValuesRequest"
RESPONSE = f"{PACKAGE}.PredictValuesResponse"

PredictValuesRequest = messages.message_class(REQUEST)
PredictValuesResponse = messages.message_class(RESPONSE)


def user_classes() -> tuple[Any, Any]:
    """(request class, response class) the model's code works with: caraml-upi-protos' or ours."""
    try:
        module = importlib.import_module(f"{PACKAGE}.upi_pb2")
    except Exception:  # not installed, or generated for another protobuf
        return PredictValuesRequest, PredictValuesResponse
    logger.debug("UPI messages of caraml-upi-protos (%s)", getattr(module, "__file__", "?"))
    return module.PredictValuesRequest, module.PredictValuesResponse


def decode(data: bytes, request_class: Any = PredictValuesRequest) -> Any:
    try:
        return request_class.FromString(data)
    except DecodeError as error:
        raise BadRequest(f"the request is not a {REQUEST}: {error}") from None


def encode(answer: Any) -> bytes:
    """The serialized answer; anything but a PredictValuesResponse is the model's fault."""
    if isinstance(answer, Message) and answer.DESCRIPTOR.full_name == RESPONSE:
        return answer.SerializeToString()
    failure = UserCodeError(f"upiv1_infer returned {type(answer).__name__}, not a {RESPONSE}")
    failure.__cause__ = TypeError(failure.message)
    raise failure


def exception_details(error: BaseException) -> str:
    """What a client reads of an exception raised by the model (the original's wording)."""
    return f"Unexpected {type(error)}: {error}"
