"""The tracer provider of a serving process, and the wrappers it installs.

Configuration follows the OpenTelemetry SDK's variables: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` (the service name defaults to the interface name),
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``),
``OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`` (``http/protobuf`` or ``grpc``) and
``_ENDPOINT``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*`` and ``OTEL_PROPAGATORS``, which
the SDK reads itself.  The original's ``JAEGER_AGENT_HOST``/``JAEGER_AGENT_PORT`` become
an OTLP endpoint when no OTLP endpoint is set (see ``jaeger_endpoint``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from modelserve.errors import StartupError
from modelserve.model.component import UserCall
from modelserve.settings import Settings
from modelserve.version import __version__

logger = logging.getLogger("modelserve.tracing")

HTTP_PROTOBUF, GRPC = "http/protobuf", "grpc"
OTLP_PORTS = {HTTP_PROTOBUF: 4318, GRPC: 4317}
EXPORTERS = ("otlp", "console", "none")

# Ports of a Jaeger agent or collector that do not speak OTLP.
JAEGER_PORTS = {
    5775: "the agent's Zipkin Thrift compact port (UDP)",
    6831: "the agent's Jaeger Thrift compact port (UDP)",
    6832: "the agent's Jaeger Thrift binary port (UDP)",
    5778: "the agent's configuration port",
    14250: "the collector's Jaeger gRPC port",
    14268: "the collector's Jaeger Thrift HTTP port",
}
_UNSUPPORTED_JAEGER = ("JAEGER_CONFIG_PATH", "JAEGER_EXTRA_TAGS")

# Span attributes of the user-call spans.
MODEL_NAME = "modelserve.model.name"
MODEL_METHOD = "modelserve.model.method"
FUNCTION = "code.function.name"


@dataclass(frozen=True)
class ExportConfig:
    """Where and how spans are exported, from the environment."""

    exporters: tuple[str, ...]
    protocol: str
    endpoint: str | None  # None: the exporter resolves OTEL_EXPORTER_OTLP_*ENDPOINT itself
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ExportConfig:
        warnings: list[str] = []
        names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
        unknown = [n for n in names if n not in EXPORTERS]
        if unknown:
            raise StartupError(f"OTEL_TRACES_EXPORTER={','.join(unknown)} is not one of {', '.join(EXPORTERS)}")
        exporters = tuple(n for n in names if n != "none")
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
        ).strip().lower() or HTTP_PROTOBUF
        if protocol == "http/json":
            warnings.append("OTLP http/json is not supported by the Python exporter: using http/protobuf")
            protocol = HTTP_PROTOBUF
        if protocol not in OTLP_PORTS:
            raise StartupError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not http/protobuf or grpc")
        endpoint = jaeger_endpoint(environ, protocol, warnings) if "otlp" in exporters else None
        for variable in _UNSUPPORTED_JAEGER:
            if environ.get(variable):
                warnings.append(f"{variable} is ignored: configure OpenTelemetry with the OTEL_* variables")
        return cls(exporters, protocol, endpoint, warnings)

    def describe(self, environ: Mapping[str, str]) -> str:
        if not self.exporters:
            return "exporting nowhere (OTEL_TRACES_EXPORTER=none)"
        parts = []
        for name in self.exporters:
            if name == "otlp":
                where = self.endpoint or sdk_endpoint(self.protocol, environ)
                parts.append(f"OTLP/{'gRPC' if self.protocol == GRPC else 'HTTP'} to {where}")
            else:
                parts.append("the console")
        return "exporting by " + " and ".join(parts)


def jaeger_endpoint(environ: Mapping[str, str], protocol: str, warnings: list[str]) -> str | None:
    """The OTLP endpoint that ``JAEGER_AGENT_HOST``/``PORT`` stand for, when no OTLP endpoint is set.

    The original sent Jaeger Thrift over UDP to an agent (default port 5775).  Jaeger
    takes OTLP today (4318 HTTP, 4317 gRPC) on the same host, so the host is kept and a
    Jaeger-only port is replaced by OTLP's; any other port is taken as an OTLP port.
    """
    host = environ.get("JAEGER_AGENT_HOST", "").strip()
    port_text = environ.get("JAEGER_AGENT_PORT", "").strip()
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        if host or port_text:
            warnings.append("JAEGER_AGENT_HOST/JAEGER_AGENT_PORT are ignored: an OTEL_EXPORTER_OTLP_*ENDPOINT is set")
        return None
    if not host:
        if port_text:
            warnings.append("JAEGER_AGENT_PORT is ignored without JAEGER_AGENT_HOST")
        return None
    port = OTLP_PORTS[protocol]
    note = ""
    if port_text:
        try:
            given = int(port_text)
        except ValueError:
            raise StartupError(f"JAEGER_AGENT_PORT={port_text!r} is not a port") from None
        if given in JAEGER_PORTS:
            note = f"; JAEGER_AGENT_PORT={given} is {JAEGER_PORTS[given]}, which cannot take OTLP"
        else:
            port = given
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    endpoint = f"http://{netloc}/v1/traces" if protocol == HTTP_PROTOBUF else f"http://{netloc}"
    warnings.append(
        f"JAEGER_AGENT_HOST={host}: exporting OTLP to {endpoint}, since Jaeger ingests OTLP and the agent's "
        f"Thrift ports cannot{note}; set OTEL_EXPORTER_OTLP_ENDPOINT to choose the endpoint yourself"
    )
    return endpoint


def sdk_endpoint(protocol: str, environ: Mapping[str, str]) -> str:
    """Where the SDK's exporter sends, from the OTLP variables (for the start-up log)."""
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if endpoint:
        return endpoint
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or f"http://localhost:{OTLP_PORTS[protocol]}"
    return base.rstrip("/") + "/v1/traces" if protocol == HTTP_PROTOBUF else base


def resource(settings: Settings) -> Resource:
    """The SDK's resource; ``service.name`` is the interface name unless the environment names it."""
    attributes: dict[str, Any] = {}
    if SERVICE_NAME not in OTELResourceDetector().detect().attributes:
        attributes[SERVICE_NAME] = settings.interface_name
    return Resource.create(attributes)


def exporter(name: str, config: ExportConfig) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    otlp_exporter: Any = otlp_exporter_class(config.protocol)  # both take endpoint=
    return otlp_exporter(endpoint=config.endpoint)


def otlp_exporter_class(protocol: str) -> type[SpanExporter]:
    """The OTLP exporter of the protocol, imported (a missing package fails the start-up)."""
    if protocol == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter


def check_exporter(protocol: str) -> None:
    """Fail now if the exporter's package is missing.  The gRPC one is only looked up: grpcio
    must not be imported before the workers are forked."""
    if protocol != GRPC:
        otlp_exporter_class(protocol)
        return
    module = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if not found:
        raise ImportError(f"No module named {module!r} (opentelemetry-exporter-otlp-proto-grpc)")


def log_configuration(settings: Settings, environ: Mapping[str, str] = os.environ) -> None:
    """Once at start-up: what will be exported where, and what of the old variables means what."""
    config = ExportConfig.from_environment(environ)
    if "otlp" in config.exporters:
        check_exporter(config.protocol)
    for warning in config.warnings:
        logger.warning("%s", warning)
    service = resource(settings).attributes.get(SERVICE_NAME)
    logger.info("tracing on: service %s, %s", service, config.describe(environ))


class Tracing:
    """One process's tracer provider and the wrappers that make its spans."""

    SHUTDOWN_TIMEOUT = 5.0  # seconds a stopping worker gives its last export

    def __init__(self, provider: TracerProvider):
        self.provider = provider
        self.tracer = provider.get_tracer("modelserve", __version__)

    @classmethod
    def from_environment(cls, settings: Settings, environ: Mapping[str, str] = os.environ) -> Tracing:
        """A provider with a batch processor per exporter; made the global one, so that
        spans the user's code starts through the OpenTelemetry API join the request's trace."""
        config = ExportConfig.from_environment(environ)
        provider = TracerProvider(resource=resource(settings), shutdown_on_exit=False)
        for name in config.exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter(name, config)))
        trace.set_tracer_provider(provider)
        return cls(provider)

    def asgi(self, app: Any) -> Any:
        """The REST app wrapped in a server span per request."""
        from modelserve.tracing.asgi import TracingMiddleware

        return TracingMiddleware(app, self.tracer)

    def grpc_methods(self, methods: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """{service: {method: handler}} with every handler making a server span."""
        from modelserve.tracing.rpc import traced_handler

        return {
            service: {name: traced_handler(self.tracer, service, name, handler) for name, handler in handlers.items()}
            for service, handlers in methods.items()
        }

    def traced_call(self, model: str, verb: str, call: UserCall) -> UserCall:
        """The data plane's link: a child span around every call of the user's method ``verb``."""
        tracer, name = self.tracer, f"{verb} {model}"
        attributes = {MODEL_NAME: model, MODEL_METHOD: verb, FUNCTION: f"{model}.{verb}"}

        async def traced(*args: Any) -> Any:
            with tracer.start_as_current_span(name, attributes=attributes):
                return await call(*args)

        return traced

    def shutdown(self, timeout: float | None = None) -> None:
        """Export every span still queued, then stop the exporters (a stopping worker).

        The SDK may retry an unreachable collector for half a minute: after ``timeout``
        the worker stops anyway (the thread is a daemon) and says what it dropped.
        """
        timeout = self.SHUTDOWN_TIMEOUT if timeout is None else timeout
        stopper = threading.Thread(target=self.provider.shutdown, name="tracing-shutdown", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            logger.warning("the last spans were not exported within %.0fs of stopping: dropped", timeout)
