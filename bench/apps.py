"""ASGI applications for measuring the HTTP stack: modelserve's REST app on a bench model."""

from __future__ import annotations

from typing import Any

from modelserve.model import load_model
from modelserve.server import build_rest_app
from modelserve.settings import Settings


def modelserve_app(interface_name: str = "IdentityModel") -> Any:
    """Factory: the REST app serving ``interface_name`` (run with the bench models as cwd)."""
    settings = Settings.load(interface_name, environ={})
    return build_rest_app(load_model(settings), settings)


def modelserve_traced_app(interface_name: str = "IdentityModel") -> Any:
    """Factory: the same app with tracing on, wrapped as a REST worker wraps it (``OTEL_*``
    variables from the environment; ``python -m bench.otlp_sink`` receives the spans)."""
    from modelserve import tracing

    settings = Settings.load(interface_name, environ={}).replace(tracing=True)
    model = load_model(settings)
    tracer = tracing.start(settings)
    assert tracer is not None
    tracer.instrument_component(model.component)
    return tracer.asgi(build_rest_app(model, settings))
