import dataclasses

import pytest

from modelserve.settings import OPTIONS, Settings, SettingsError, parse_bool


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
