"""The tracing configuration from the environment, and the wrappers on their own."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.propagate import extract

from modelserve.errors import StartupError
from modelserve.settings import Settings
from modelserve.tracing.asgi import HEADERS
from modelserve.tracing.otel import ExportConfig, resource
from modelserve.tracing.rpc import METADATA

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def config(**environ: str) -> ExportConfig:
    return ExportConfig.from_environment(environ)


def test_defaults_export_otlp_http_where_the_sdk_says() -> None:
    default = config()
    assert (default.exporters, default.protocol, default.endpoint, default.warnings) == (
        ("otlp",), "http/protobuf", None, []
    )


def test_protocol_and_exporters() -> None:
    assert config(OTEL_EXPORTER_OTLP_PROTOCOL="grpc").protocol == "grpc"
    assert config(OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf").protocol == (
        "http/protobuf"
    )
    as_json = config(OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    assert as_json.protocol == "http/protobuf" and "http/json is not supported" in as_json.warnings[0]
    assert config(OTEL_TRACES_EXPORTER="none").exporters == ()
    assert config(OTEL_TRACES_EXPORTER="console,otlp").exporters == ("console", "otlp")
    with pytest.raises(StartupError, match="OTEL_EXPORTER_OTLP_PROTOCOL='udp'"):
        config(OTEL_EXPORTER_OTLP_PROTOCOL="udp")
    with pytest.raises(StartupError, match="OTEL_TRACES_EXPORTER=jaeger is not one of otlp, console, none"):
        config(OTEL_TRACES_EXPORTER="jaeger")


@pytest.mark.parametrize(
    ("environ", "endpoint", "note"),
    [
        ({"JAEGER_AGENT_HOST": "jaeger"}, "http://jaeger:4318/v1/traces", ""),
        ({"JAEGER_AGENT_HOST": "jaeger", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http://jaeger:4317", ""),
        ({"JAEGER_AGENT_HOST": "jaeger", "JAEGER_AGENT_PORT": "5775"}, "http://jaeger:4318/v1/traces",
         "JAEGER_AGENT_PORT=5775 is the agent's Zipkin Thrift compact port (UDP), which cannot take OTLP"),
        ({"JAEGER_AGENT_HOST": "jaeger", "JAEGER_AGENT_PORT": "6831"}, "http://jaeger:4318/v1/traces",
         "JAEGER_AGENT_PORT=6831 is the agent's Jaeger Thrift compact port (UDP)"),
        ({"JAEGER_AGENT_HOST": "jaeger", "JAEGER_AGENT_PORT": "14318"}, "http://jaeger:14318/v1/traces", ""),
        ({"JAEGER_AGENT_HOST": "fd00::1"}, "http://[fd00::1]:4318/v1/traces", ""),
    ],
)
def test_jaeger_agent_host_maps_to_otlp(environ: dict[str, str], endpoint: str, note: str) -> None:
    mapped = config(**environ)
    assert mapped.endpoint == endpoint
    (warning,) = mapped.warnings
    assert f"exporting OTLP to {endpoint}, since Jaeger ingests OTLP" in warning
    assert note in warning
    assert f"to {endpoint}" in mapped.describe(environ)


def test_the_start_up_log_names_the_endpoint() -> None:
    assert config().describe({}) == "exporting by OTLP/HTTP to http://localhost:4318/v1/traces"
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
    assert config(**environ).describe(environ) == "exporting by OTLP/HTTP to http://collector:4318/v1/traces"
    environ = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector/traces", "OTEL_TRACES_EXPORTER": "otlp,console"}
    assert config(**environ).describe(environ) == "exporting by OTLP/HTTP to http://collector/traces and the console"
    environ = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    assert config(**environ).describe(environ) == "exporting by OTLP/gRPC to http://localhost:4317"
    assert config(OTEL_TRACES_EXPORTER="none").describe({}) == "exporting nowhere (OTEL_TRACES_EXPORTER=none)"


def test_otlp_endpoint_wins_over_jaeger_variables() -> None:
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        chosen = config(**{variable: "http://collector:4318", "JAEGER_AGENT_HOST": "jaeger"})
        assert chosen.endpoint is None  # the exporter reads the OTLP variable itself
        assert chosen.warnings == [
            "JAEGER_AGENT_HOST/JAEGER_AGENT_PORT are ignored: an OTEL_EXPORTER_OTLP_*ENDPOINT is set"
        ]


def test_other_jaeger_variables_are_reported() -> None:
    assert config(JAEGER_AGENT_PORT="6831").warnings == ["JAEGER_AGENT_PORT is ignored without JAEGER_AGENT_HOST"]
    with pytest.raises(StartupError, match="JAEGER_AGENT_PORT='x' is not a port"):
        config(JAEGER_AGENT_HOST="jaeger", JAEGER_AGENT_PORT="x")
    ignored = config(JAEGER_CONFIG_PATH="/etc/jaeger.yaml", JAEGER_EXTRA_TAGS="path").warnings
    assert ignored == [
        "JAEGER_CONFIG_PATH is ignored: configure OpenTelemetry with the OTEL_* variables",
        "JAEGER_EXTRA_TAGS is ignored: configure OpenTelemetry with the OTEL_* variables",
    ]


def test_service_name_is_the_interface_name_unless_the_environment_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    settings = Settings(interface_name="models.Iris")
    attributes = resource(settings).attributes
    assert attributes["service.name"] == "models.Iris"
    assert attributes["deployment.environment"] == "test"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
    assert resource(settings).attributes["service.name"] == "from-attributes"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-name")
    assert resource(settings).attributes["service.name"] == "from-name"


def test_trace_context_from_headers_and_metadata() -> None:
    for carrier, getter in (
        ([(b"content-type", b"application/json"), (b"traceparent", TRACEPARENT.encode())], HEADERS),
        ((("user-agent", "grpc"), ("traceparent", TRACEPARENT), ("x-bin", b"\x00")), METADATA),
    ):
        context = trace.get_current_span(extract(carrier, getter=getter)).get_span_context()  # type: ignore[arg-type]
        assert format(context.trace_id, "032x") == TRACE_ID
        assert context.is_remote
    garbage = [(b"traceparent", b"00-not-a-trace-01"), (b"tracestate", b"\xff")]
    assert not trace.get_current_span(extract(garbage, getter=HEADERS)).get_span_context().is_valid  # a new trace
    assert HEADERS.get([(b"a", b"1")], "traceparent") is None
    assert METADATA.get((("x-bin", b"\x00"),), "x-bin") is None


