import dataclasses
import re
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelserve.settings import (
    ANNOTATIONS_VARIABLE,
    OPTIONS,
    Settings,
    SettingsError,
    legacy_ports,
    parse_bool,
    read_annotations,
)


def test_every_option_has_a_field_with_the_same_default() -> None:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for option in OPTIONS:
        field = fields[option.name]
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        assert default == option.default, option.name


def test_spec_defaults() -> None:
    settings = Settings.load("M", environ={})
    assert (settings.http_port, settings.grpc_port, settings.metrics_port) == (9000, 5000, 6000)
    assert (settings.workers, settings.threads, settings.grpc_workers, settings.grpc_threads) == (1, 1, 1, 1)
    assert settings.keepalive == 2 and settings.metrics_endpoint == "/metrics"
    assert settings.service_type == "MODEL" and settings.log_level == "INFO"
    assert not settings.debug and not settings.single_threaded and not settings.payload_passthrough
    assert settings.filter_metrics_logs


def test_cli_beats_environment_beats_default() -> None:
    environ = {"GUNICORN_WORKERS": "3", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "8080"}
    settings = Settings.load("M", {"workers": 5}, environ)
    assert settings.workers == 5 and settings.http_port == 8080 and settings.grpc_port == 5000


def test_first_listed_variable_wins() -> None:
    environ = {"LOG_LEVEL_ENV": "debug", "SELDON_LOG_LEVEL": "ERROR"}
    assert Settings.load("M", environ=environ).log_level == "DEBUG"
    assert Settings.load("M", environ={"SELDON_LOG_LEVEL": "warn"}).log_level == "WARNING"


@pytest.mark.parametrize("text", ["1", "true", "T", "TRUE", "yes"])
def test_true_values(text: str) -> None:
    assert parse_bool(text) is True
    assert Settings.load("M", environ={"SELDON_DEBUG": text}).debug


def test_debug_filters_nothing_by_default() -> None:
    assert not Settings.load("M", environ={"SELDON_DEBUG": "1"}).filter_metrics_logs
    assert Settings.load("M", environ={"SELDON_DEBUG": "1", "FILTER_METRICS_ACCESS_LOGS": "1"}).filter_metrics_logs


def test_single_threaded_means_one_user_call() -> None:
    assert Settings.load("M", {"threads": 8, "single_threaded": True}, {}).user_threads == 1
    assert Settings.load("M", {"threads": 8}, {}).user_threads == 8


@pytest.mark.parametrize(
    ("environ", "culprit"),
    [
        ({"GUNICORN_WORKERS": "two"}, "GUNICORN_WORKERS"),
        ({"GUNICORN_THREADS": "-1"}, "GUNICORN_THREADS"),
        ({"FLASK_SINGLE_THREADED": "maybe"}, "FLASK_SINGLE_THREADED"),
        ({"PREDICTIVE_UNIT_GRPC_SERVICE_PORT": "70000"}, "PREDICTIVE_UNIT_GRPC_SERVICE_PORT"),
        ({"PREDICTIVE_UNIT_METRICS_ENDPOINT": "metrics"}, "PREDICTIVE_UNIT_METRICS_ENDPOINT"),
    ],
)
def test_bad_values_name_their_source(environ: dict[str, str], culprit: str) -> None:
    with pytest.raises(SettingsError, match=culprit):
        Settings.load("M", environ=environ)


def test_sizes() -> None:
    assert Settings.load("M", environ={"MODELSERVE_MAX_BODY_SIZE": "2M"}).max_body_size == 2 << 20


def test_batching_settings() -> None:
    assert not Settings.load("M", environ={}).batching  # off by default
    assert not Settings.load("M", environ={"MODELSERVE_MAX_BATCH_SIZE": "0"}).batching
    settings = Settings.load("M", environ={"MODELSERVE_MAX_BATCH_SIZE": "8", "MODELSERVE_MAX_BATCH_TIME_MS": "2.5"})
    assert settings.batching and settings.max_batch_size == 8 and settings.max_batch_time_ms == 2.5
    with pytest.raises(SettingsError, match="MODELSERVE_MAX_BATCH_TIME_MS"):
        Settings.load("M", environ={"MODELSERVE_MAX_BATCH_TIME_MS": "0"})
    with pytest.raises(SettingsError, match="MODELSERVE_MAX_BATCH_SIZE"):
        Settings.load("M", environ={"MODELSERVE_MAX_BATCH_SIZE": "-1"})


def test_model_name_and_service_type_from_the_s2i_variables() -> None:
    environ = {"MODEL_NAME": "MyRouter", "SERVICE_TYPE": "router"}
    settings = Settings.load(None, environ=environ)
    assert settings.interface_name == "MyRouter" and settings.service_type == "ROUTER"
    given = Settings.load("Other", {"service_type": "TRANSFORMER"}, environ)
    assert given.interface_name == "Other" and given.service_type == "TRANSFORMER"


def test_no_interface_name_and_no_model_name() -> None:
    with pytest.raises(SettingsError, match="MODEL_NAME"):
        Settings.load(None, environ={})
    with pytest.raises(SettingsError, match="SERVICE_TYPE"):
        Settings.load("M", environ={"SERVICE_TYPE": "ROUTERX"})


# The pod annotations (/etc/podinfo/annotations, as the Seldon wrapper read them): a source
# layer under the environment, over the defaults.

ANNOTATIONS = 'seldon.io/rest-timeout="2500"\nseldon.io/grpc-max-message-size="1048576"\nother="x"\n'


def test_annotation_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "annotations"
    path.write_text(
        'kubernetes.io/config.seen="2024-01-01T00:00:00Z"\n'
        'seldon.io/rest-timeout="5000"\n'
        'quoted="say \\"hi\\"\\nbye"\n'
        "not a pair\n"
        "bare=value\n"
    )
    assert read_annotations(str(path)) == {
        "kubernetes.io/config.seen": "2024-01-01T00:00:00Z",
        "seldon.io/rest-timeout": "5000",
        "quoted": 'say "hi"\nbye',
        "bare": "value",
    }
    assert read_annotations(str(tmp_path / "missing")) == {}


def test_annotations_come_after_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "annotations"
    path.write_text(ANNOTATIONS)
    environ = {ANNOTATIONS_VARIABLE: str(path)}
    settings = Settings.load("M", environ=environ)
    assert settings.request_timeout == 2.5  # milliseconds in the annotation, seconds in the setting
    assert settings.grpc_max_message_size == 1 << 20
    assert settings.sources["request_timeout"] == f"{path}: seldon.io/rest-timeout"
    environ |= {"MODELSERVE_REQUEST_TIMEOUT": "7", "MODELSERVE_GRPC_MAX_MESSAGE_SIZE": "2M"}
    settings = Settings.load("M", environ=environ)
    assert (settings.request_timeout, settings.grpc_max_message_size) == (7.0, 2 << 20)
    settings = Settings.load("M", {"request_timeout": 9.0, "grpc_max_message_size": 3 << 20}, environ)
    assert (settings.request_timeout, settings.grpc_max_message_size) == (9.0, 3 << 20)


def test_without_annotations_the_defaults_hold(tmp_path: Path) -> None:
    settings = Settings.load("M", environ={ANNOTATIONS_VARIABLE: str(tmp_path / "none")})
    assert (settings.request_timeout, settings.grpc_max_message_size) == (0.0, 256 << 20)
    assert Settings.load("M", environ={}, annotations={}).request_timeout == 0.0


@pytest.mark.parametrize(
    ("annotation", "culprit"),
    [
        ('seldon.io/rest-timeout="soon"', "seldon.io/rest-timeout='soon'"),
        ('seldon.io/rest-timeout="-5"', "seldon.io/rest-timeout='-5'"),
        ('seldon.io/grpc-max-message-size="0"', "seldon.io/grpc-max-message-size='0'"),
    ],
)
def test_bad_annotations_name_the_file_and_key(tmp_path: Path, annotation: str, culprit: str) -> None:
    path = tmp_path / "annotations"
    path.write_text(annotation + "\n")
    with pytest.raises(SettingsError, match=re.escape(f"{path}: {culprit}")):
        Settings.load("M", environ={ANNOTATIONS_VARIABLE: str(path)})


def test_request_timeout_setting() -> None:
    assert Settings.load("M", environ={"MODELSERVE_REQUEST_TIMEOUT": "1.5"}, annotations={}).request_timeout == 1.5
    with pytest.raises(SettingsError, match="MODELSERVE_REQUEST_TIMEOUT"):
        Settings.load("M", environ={"MODELSERVE_REQUEST_TIMEOUT": "-1"}, annotations={})


def test_every_port_needs_its_own_number() -> None:
    with pytest.raises(SettingsError, match=re.escape("--http-port and --grpc-port (default) are both 5000")):
        Settings.load("M", {"http_port": 5000}, {})
    with pytest.raises(SettingsError, match="PREDICTIVE_UNIT_HTTP_SERVICE_PORT and --metrics-port are both 7000"):
        Settings.load("M", {"metrics_port": 7000}, {"PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "7000"})
    assert Settings.load("M", {"http_port": 5000, "grpc_workers": 0}, {}).http_port == 5000  # no gRPC port then
    assert Settings.load("M", {"http_port": 0, "metrics_port": 0}, {}).http_port == 0  # 0: any free port


# Spec 000's command line, mapped onto today's settings (the processes: tests/test_cli.py).


def test_legacy_ports() -> None:
    assert legacy_ports(None, None, {}, {}) == ({}, [])
    values, warnings = legacy_ports("REST", "7000", {}, {})
    assert values == {"http_port": 7000} and len(warnings) == 2
    values, warnings = legacy_ports("GRPC", None, {}, {"PREDICTIVE_UNIT_SERVICE_PORT": "7001"})
    assert values == {"grpc_port": 7001}
    assert "serving on PREDICTIVE_UNIT_GRPC_SERVICE_PORT=7001" in warnings[1]
    # A deployment that sets both variables to the same port (Seldon's operator does) hears nothing.
    same = {"PREDICTIVE_UNIT_SERVICE_PORT": "9000", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "9000"}
    assert legacy_ports(None, None, {}, same) == ({}, [])
    values, warnings = legacy_ports(None, None, {"http_port": 8000}, {"PREDICTIVE_UNIT_SERVICE_PORT": "9000"})
    assert values == {}
    assert warnings == ["PREDICTIVE_UNIT_SERVICE_PORT=9000 is ignored: --http-port gives the port, 8000"]
    with pytest.raises(SettingsError, match="--port and --http-port are both given"):
        legacy_ports("REST", "7000", {"http_port": 8000}, {})
    with pytest.raises(SettingsError, match="'FBS'"):
        legacy_ports("FBS", None, {}, {})
    with pytest.raises(SettingsError, match="--port='x'"):
        legacy_ports(None, "x", {}, {})


def _grpc_code_of_a_large_message(port: int) -> grpc.StatusCode:
    """A 4 KiB health check (an unknown service name): what the server says, once it answers."""
    request = health_pb2.HealthCheckRequest(service="s" * 4096)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        try:
            health_pb2_grpc.HealthStub(channel).Check(request, timeout=10)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("environment_too", [False, True], ids=["annotation", "variable-beats-annotation"])
def test_a_served_process_reads_the_annotations(start_server, tmp_path: Path, environment_too: bool) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "annotations"
    path.write_text('seldon.io/rest-timeout="2500"\nseldon.io/grpc-max-message-size="1024"\n')
    env = {ANNOTATIONS_VARIABLE: str(path)}
    if environment_too:
        env["MODELSERVE_GRPC_MAX_MESSAGE_SIZE"] = "1M"
    server = start_server("IdentityModel", env=env)
    code = _grpc_code_of_a_large_message(server.grpc_port)
    if environment_too:
        assert code == grpc.StatusCode.NOT_FOUND  # through the size check to the health service
    else:
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"--grpc-max-message-size 1024 from the pod annotation {path}: seldon.io/grpc-max-message-size" in (
            server.output()
        )
    assert f"--request-timeout 2.5 from the pod annotation {path}: seldon.io/rest-timeout" in server.output()


def test_a_model_dir_reads_merlins_variables_and_defaults() -> None:
    settings = Settings.load("", {"model_dir": "/m"}, {})
    assert settings.merlin and (settings.http_port, settings.grpc_port, settings.workers) == (8080, 9000, 1)
    assert settings.grpc_workers == 0
    assert (settings.protocol, settings.served_name, settings.grpc_concurrency) == ("HTTP_JSON", "model-1", 10)
    assert settings.grpc_options == {} and settings.log_level == "INFO"
    environ = {
        "CARAML_PROTOCOL": "UPI_V1",
        "CARAML_HTTP_PORT": "8081",
        "CARAML_GRPC_PORT": "9001",
        "CARAML_MODEL_NAME": "iris",
        "CARAML_MODEL_VERSION": "3",
        "WORKERS": "4",
        "LOG_LEVEL": "debug",
        "GRPC_OPTIONS": '{"grpc.max_concurrent_streams": 100}',
        "GRPC_CONCURRENCY": "2",
        # Seldon's variables do not apply to a model dir
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "7000",
        "GUNICORN_WORKERS": "9",
    }
    settings = Settings.load("", {"model_dir": "/m"}, environ)
    assert (settings.protocol, settings.http_port, settings.grpc_port) == ("UPI_V1", 8081, 9001)
    # UPI: WORKERS gRPC workers of GRPC_CONCURRENCY threads, the metrics on the HTTP port
    assert (settings.workers, settings.grpc_workers, settings.grpc_user_threads) == (0, 4, 2)
    assert settings.metrics_port == 8081
    http_json = Settings.load("", {"model_dir": "/m"}, {**environ, "CARAML_PROTOCOL": "HTTP_JSON"})
    assert (http_json.workers, http_json.grpc_workers, http_json.user_threads) == (4, 0, 1)
    assert (settings.served_name, settings.log_level, settings.grpc_concurrency) == ("iris-3", "DEBUG", 2)
    assert settings.grpc_options == {"grpc.max_concurrent_streams": 100}
    assert Settings.load("", {"model_dir": "/m"}, {"CARAML_MODEL_FULL_NAME": "iris-3-r1"}).served_name == "iris-3-r1"
    # a flag still beats a variable; without a model dir the variables mean nothing
    assert Settings.load("", {"model_dir": "/m", "http_port": 1234}, environ).http_port == 1234
    seldon = Settings.load("M", environ={"CARAML_HTTP_PORT": "8081", "WORKERS": "4"})
    assert (seldon.http_port, seldon.workers, seldon.merlin) == (9000, 1, False)


def test_merlin_variables_are_checked_like_the_others() -> None:
    with pytest.raises(SettingsError, match="CARAML_PROTOCOL"):
        Settings.load("", {"model_dir": "/m"}, {"CARAML_PROTOCOL": "HTTP"})
    with pytest.raises(SettingsError, match="GRPC_OPTIONS"):
        Settings.load("", {"model_dir": "/m"}, {"GRPC_OPTIONS": "[1]"})
    with pytest.raises(SettingsError, match="WORKERS"):
        Settings.load("", {"model_dir": "/m"}, {"WORKERS": "two"})
    # as the original: an unknown LOG_LEVEL is INFO
    assert Settings.load("", {"model_dir": "/m"}, {"LOG_LEVEL": "chatty"}).log_level == "INFO"
