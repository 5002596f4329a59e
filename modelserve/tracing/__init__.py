"""OpenTelemetry tracing (``--tracing`` / ``TRACING=1``), installed at start-up only.

With tracing off nothing here touches a request: no OpenTelemetry module is imported
and no wrapper is installed.  With tracing on, each serving process (after the fork)
calls ``start``, which builds the tracer provider and its batch exporter, and then
wraps the REST app, the gRPC methods and the model's user calls once.

This module only imports the standard library; everything OpenTelemetry lives in
``modelserve.tracing.otel`` and the modules it imports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from modelserve.errors import StartupError
from modelserve.settings import Settings

if TYPE_CHECKING:
    from modelserve.tracing.otel import Tracing

logger = logging.getLogger("modelserve.tracing")

EXTRA_HINT = "install the tracing extra: pip install 'modelserve[tracing]'"


def check(settings: Settings) -> None:
    """At start-up, before any fork: with tracing on, the OpenTelemetry packages must be there.

    Importing them starts no thread, so the supervisor may do it (the forked workers
    then share the imported modules).
    """
    if not settings.tracing:
        return
    try:
        from modelserve.tracing.otel import log_configuration

        log_configuration(settings)
    except ImportError as error:
        raise StartupError(f"tracing is on (--tracing/TRACING) but {error}: {EXTRA_HINT}") from None


def start(settings: Settings) -> Tracing | None:
    """In a serving process, after ``check``: the process's tracing, or None when it is off."""
    if not settings.tracing:
        return None
    from modelserve.tracing.otel import Tracing

    return Tracing.from_environment(settings)
