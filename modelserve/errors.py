"""Errors that reach a client, and how a user's exception becomes one.

Every failure of a request ends as a ``ServingError``: a status code (HTTP numbering;
the gRPC transport maps it), a reason in the Seldon style and a message.  Transports
render it in their protocol's own error format.
"""

from __future__ import annotations

import logging
import reprlib
from typing import Any

logger = logging.getLogger("modelserve.requests")

BAD_DATA = "MICROSERVICE_BAD_DATA"
INTERNAL_ERROR = "MICROSERVICE_INTERNAL_ERROR"
BAD_METRIC = "MICROSERVICE_BAD_METRIC"
BAD_METADATA = "MICROSERVICE_BAD_METADATA"
NOT_FOUND = "MICROSERVICE_NOT_FOUND"
METHOD_NOT_ALLOWED = "MICROSERVICE_METHOD_NOT_ALLOWED"
PAYLOAD_TOO_LARGE = "MICROSERVICE_PAYLOAD_TOO_LARGE"
NOT_IMPLEMENTED = "MICROSERVICE_NOT_IMPLEMENTED"
NOT_READY = "MICROSERVICE_NOT_READY"
OVERLOADED = "MICROSERVICE_OVERLOADED"
REQUEST_TIMEOUT = "MICROSERVICE_REQUEST_TIMEOUT"
URI_TOO_LONG = "MICROSERVICE_URI_TOO_LONG"
HEADERS_TOO_LARGE = "MICROSERVICE_HEADERS_TOO_LARGE"


class ServingError(Exception):
    """A request failed; ``status_code`` and ``reason`` say how the client is told."""

    status_code = 500
    reason = INTERNAL_ERROR

    def __init__(self, message: str, status_code: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if reason is not None:
            self.reason = reason
        self.body: dict[str, Any] | None = None  # a user's own error body (to_dict())

    def to_dict(self) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        return {"status": {"code": -1, "info": self.message, "reason": self.reason, "status": 1}}


class BadRequest(ServingError):
    """The client sent something we cannot use: its fault, a 4xx."""

    status_code = 400
    reason = BAD_DATA


class NotImplementedByModel(BadRequest):
    """The request needs a method the user's class does not have."""

    reason = BAD_DATA


class UserCodeError(ServingError):
    """The user's code raised: reported to the client, never a crash."""


QUOTE_LIMIT = 200  # characters of a client's input an error message repeats at most
# repr() of a large request is itself large and slow: this one stops early.
_BOUNDED = reprlib.Repr()
_BOUNDED.maxlevel = 4
_BOUNDED.maxtuple = _BOUNDED.maxlist = _BOUNDED.maxarray = _BOUNDED.maxdict = _BOUNDED.maxset = 40
_BOUNDED.maxstring = _BOUNDED.maxother = QUOTE_LIMIT


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value from a request as an error message shows it (``str`` as is, else its ``repr``),
    at most ``limit`` characters: an error answer and its log line never echo a large input."""
    text = value if isinstance(value, str) else _BOUNDED.repr(value)
    if len(text) <= limit:
        return text
    return text[:limit] + "..."


def log_failure(where: str, error: ServingError) -> None:
    """Log a failed request once: a server error with its cause's traceback, a client error in one line."""
    if error.status_code >= 500:
        cause = error.__cause__
        logger.error(
            "%s failed: %s %s",
            where,
            error.reason,
            error.message,
            exc_info=(type(cause), cause, cause.__traceback__) if cause else None,
        )
    else:
        logger.info("%s answered %d: %s", where, error.status_code, error.message)


class StartupError(Exception):
    """The server cannot start; the message is one line that names the culprit."""


# The public shape of the Python wrapper's SeldonMicroserviceException.  A user
# exception with all of these is honoured (its status code, reason and body) whatever
# its class is, so models written for the original need not import anything.
_SELDON_EXCEPTION_SHAPE = ("status_code", "reason", "message", "payload", "to_dict")


def is_seldon_shaped(error: BaseException) -> bool:
    return all(hasattr(error, name) for name in _SELDON_EXCEPTION_SHAPE)


def is_not_implemented_signal(error: BaseException) -> bool:
    """The wrapper's SeldonComponent stubs raise SeldonNotImplementedError: fall back."""
    return type(error).__name__ == "SeldonNotImplementedError"


def from_user_exception(error: BaseException) -> ServingError:
    """The client-facing error for an exception raised by user code."""
    if isinstance(error, ServingError):
        return error
    if is_seldon_shaped(error):
        message = str(getattr(error, "message", "") or error)
        status = _valid_status(getattr(error, "status_code", None))
        failure = UserCodeError(message, status, str(getattr(error, "reason", INTERNAL_ERROR)))
        try:
            body = error.to_dict()  # type: ignore[attr-defined]
        except Exception:
            body = None
        if isinstance(body, dict):
            failure.body = body
        return failure
    message = str(error) or type(error).__name__
    return UserCodeError(message, 500, INTERNAL_ERROR)


def _valid_status(value: Any) -> int:
    if isinstance(value, int) and 400 <= value <= 599:
        return value
    return 500
