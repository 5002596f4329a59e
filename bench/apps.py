"""ASGI applications for measuring the HTTP stack: modelserve's REST app on a bench model."""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any

from modelserve.model import build_model
from modelserve.settings import Settings
from modelserve.workers.assembly import assemble, rest_app


def modelserve_app(interface_name: str = "IdentityModel") -> Any:
    """Factory: the REST app serving ``interface_name`` (run with the bench models as cwd)."""
    settings = Settings.load(interface_name, environ={})
    assembly = assemble(build_model(settings), settings, tempfile.mkdtemp(prefix="bench-metrics-"), 1)
    return rest_app(assembly, settings)


def modelserve_traced_app(interface_name: str = "IdentityModel") -> Any:
    """Factory: the same app with tracing on, wrapped as a REST worker wraps it (``OTEL_*``
    variables from the environment; ``python -m bench.otlp_sink`` receives the spans)."""
    settings = dataclasses.replace(Settings.load(interface_name, environ={}), tracing=True)
    assembly = assemble(build_model(settings), settings, tempfile.mkdtemp(prefix="bench-metrics-"), 1)
    return rest_app(assembly, settings)
