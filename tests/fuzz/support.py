"""What every fuzz test checks: a refusal is a clean client error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from modelserve.errors import ServingError

T = TypeVar("T")


def clean(call: Callable[..., T], *args: Any) -> T | None:
    """``call(*args)``, or None when it refused its input with a client error (4xx).

    Any other exception, and a ServingError of another status, fails the test."""
    try:
        return call(*args)
    except ServingError as error:
        assert 400 <= error.status_code < 500, f"{error.status_code} {error.reason}: {error.message}"
        return None
