"""Every setting of the server, in one typed object.

Each setting is declared once in ``OPTIONS``: its command-line flag, the environment
variables it falls back to, its default and how its text is converted.  The value of a
setting is taken from the command line if given, else from the first environment
variable that is set, else from the default.  ``cli.py`` builds its parser from the same
table, so ``modelserve serve --help`` always lists every setting with its variables.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "OUTPUT_TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1/0, true/false, t/f, yes/no)")


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"{text!r} is not a TCP port")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not positive")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        value = text.strip().upper()
        if value not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    return convert


def _lower_choice(*choices: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    return convert


def _pushgateway_url(text: str) -> str:
    from modelserve.pushgateway import parse_url

    parse_url(text)  # a clear error at start-up, not at the first push
    return text.strip()


def _log_level(text: str) -> str:
    value = text.strip().upper()
    value = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(value, value)
    return _choice(*LOG_LEVELS)(value)


def _json_list(text: str) -> list[Any]:
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError("must be a JSON list")
    return value


def _size(text: str) -> int:
    """Bytes, with an optional K/M/G suffix (powers of 1024)."""
    value = text.strip().upper().removesuffix("B")
    scale = 1
    for suffix, factor in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if value.endswith(suffix):
            value, scale = value[:-1], factor
            break
    size = int(float(value) * scale)
    if size <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return size


@dataclass(frozen=True)
class Option:
    """One setting: where it comes from and how its text becomes a value."""

    name: str
    flag: str | None
    env: tuple[str, ...]
    default: Any
    convert: Callable[[str], Any]
    help: str
    metavar: str | None = None
    is_flag: bool = False  # a switch: given alone it means true


OPTIONS: tuple[Option, ...] = (
    Option(
        "http_port", "--http-port", ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT",), 9000, _port, "HTTP (REST) port.", "PORT"
    ),
    Option("grpc_port", "--grpc-port", ("PREDICTIVE_UNIT_GRPC_SERVICE_PORT",), 5000, _port, "gRPC port.", "PORT"),
    Option(
        "metrics_port",
        "--metrics-port",
        ("PREDICTIVE_UNIT_METRICS_SERVICE_PORT",),
        6000,
        _port,
        "Prometheus metrics port.",
        "PORT",
    ),
    Option("host", "--host", ("MODELSERVE_HOST",), "0.0.0.0", str, "Address every port listens on.", "ADDRESS"),
    Option(
        "service_type",
        "--service-type",
        ("SERVICE_TYPE",),
        "MODEL",
        _choice(*SERVICE_TYPES),
        "Service type: " + ", ".join(SERVICE_TYPES) + ".",
        "TYPE",
    ),
    Option(
        "parameters",
        "--parameters",
        ("PREDICTIVE_UNIT_PARAMETERS",),
        [],
        _json_list,
        "JSON list of {name, value, type} passed to the class constructor "
        "(types INT, FLOAT, DOUBLE, STRING, BOOL, JSON).",
        "JSON",
    ),
    Option(
        "log_level",
        "--log-level",
        ("LOG_LEVEL_ENV", "SELDON_LOG_LEVEL"),
        "INFO",
        _log_level,
        "Log level: DEBUG, INFO, WARNING, ERROR.",
        "LEVEL",
    ),
    Option(
        "log_format",
        "--log-format",
        ("MODELSERVE_LOG_FORMAT",),
        "text",
        _lower_choice(*LOG_FORMATS),
        "Log format: text, or json (one JSON object per line, for log collectors).",
        "FORMAT",
    ),
    Option(
        "debug",
        "--debug",
        ("SELDON_DEBUG",),
        False,
        parse_bool,
        "Development mode: one process, debug logging.",
        is_flag=True,
    ),
    Option("tracing", "--tracing", ("TRACING",), False, parse_bool, "Enable OpenTelemetry tracing.", is_flag=True),
    Option("workers", "--workers", ("GUNICORN_WORKERS",), 1, _non_negative_int, "REST worker processes.", "N"),
    Option(
        "threads",
        "--threads",
        ("GUNICORN_THREADS",),
        1,
        _non_negative_int,
        "User calls that may run at once in a REST worker (1: on the event loop).",
        "N",
    ),
    Option(
        "grpc_workers",
        "--grpc-workers",
        ("GRPC_WORKERS",),
        1,
        _non_negative_int,
        "gRPC worker processes (0: no gRPC server).",
        "N",
    ),
    Option(
        "grpc_threads",
        "--grpc-threads",
        ("GRPC_THREADS",),
        1,
        _non_negative_int,
        "User calls that may run at once in a gRPC worker.",
        "N",
    ),
    Option(
        "max_requests",
        "--max-requests",
        ("GUNICORN_MAX_REQUESTS",),
        0,
        _non_negative_int,
        "Requests a worker serves before it is recycled (0: never).",
        "N",
    ),
    Option(
        "max_requests_jitter",
        "--max-requests-jitter",
        ("GUNICORN_MAX_REQUESTS_JITTER",),
        0,
        _non_negative_int,
        "Random extra requests added to --max-requests per worker.",
        "N",
    ),
    Option(
        "keepalive",
        "--keepalive",
        ("GUNICORN_KEEPALIVE",),
        2,
        _non_negative_int,
        "Seconds an idle keep-alive connection is kept open.",
        "SECONDS",
    ),
    Option(
        "access_log",
        "--access-log",
        ("GUNICORN_ACCESS_LOG",),
        False,
        parse_bool,
        "Log one line per request.",
        is_flag=True,
    ),
    Option("pidfile", "--pidfile", (), None, str, "Write the server's PID to this file.", "PATH"),
    Option(
        "single_threaded",
        "--single-threaded",
        ("FLASK_SINGLE_THREADED",),
        False,
        parse_bool,
        "Exactly one user call at a time per process, always on the same thread.",
        is_flag=True,
    ),
    Option(
        "filter_metrics_access_logs",
        None,
        ("FILTER_METRICS_ACCESS_LOGS",),
        None,
        parse_bool,
        "Leave metrics scrapes out of the access log (default: on unless --debug).",
    ),
    Option(
        "pushgateway_enabled",
        "--pushgateway-enabled",
        ("PUSHGATEWAY_ENABLED",),
        False,
        parse_bool,
        "Push the metrics to a Prometheus push gateway periodically and on shutdown.",
        is_flag=True,
    ),
    Option(
        "pushgateway_url",
        "--pushgateway-url",
        ("PUSHGATEWAY_URL",),
        "localhost:9091",
        _pushgateway_url,
        "Push gateway: host:port or http://host:port[/prefix].",
        "URL",
    ),
    Option(
        "pushgateway_push_interval",
        "--pushgateway-push-interval",
        ("PUSHGATEWAY_PUSH_INTERVAL_SEC",),
        30.0,
        _positive_float,
        "Seconds between two pushes to the push gateway.",
        "SECONDS",
    ),
    Option(
        "metrics_endpoint",
        None,
        ("PREDICTIVE_UNIT_METRICS_ENDPOINT",),
        "/metrics",
        str,
        "Path of the Prometheus metrics on the metrics port.",
    ),
    Option(
        "builtin_metrics",
        "--builtin-metrics",
        ("MODELSERVE_BUILTIN_METRICS",),
        True,
        parse_bool,
        "Record the built-in request metrics (modelserve_*); 0 leaves only the custom ones, as the original.",
        "BOOL",
    ),
    Option(
        "payload_passthrough",
        None,
        ("PAYLOAD_PASSTHROUGH",),
        False,
        parse_bool,
        "Hand /predict bodies undecoded to predict_raw and send its answer as is.",
    ),
    Option(
        "include_metrics_in_response",
        None,
        ("INCLUDE_METRICS_IN_CLIENT_RESPONSE",),
        True,
        parse_bool,
        "Echo custom metrics in meta.metrics of every answer.",
    ),
    Option(
        "model_metadata",
        None,
        ("MODEL_METADATA",),
        None,
        str,
        "JSON (or YAML) metadata merged over the class's init_metadata().",
    ),
    Option(
        "predictive_unit_id",
        None,
        ("PREDICTIVE_UNIT_ID",),
        None,
        str,
        "Name of this unit in a Seldon graph (feedback routing, meta.requestPath, metric labels).",
    ),
    Option(
        "predictive_unit_image",
        None,
        ("PREDICTIVE_UNIT_IMAGE",),
        None,
        str,
        "Image of this unit (meta.requestPath, default metadata name and version).",
    ),
    Option("deployment_name", None, ("SELDON_DEPLOYMENT_ID",), None, str, "Seldon deployment name (metric label)."),
    Option("predictor_name", None, ("PREDICTOR_ID",), None, str, "Predictor name (metric label)."),
    Option(
        "predictor_labels",
        None,
        ("PREDICTOR_LABELS",),
        None,
        str,
        "JSON object of predictor labels; its 'version' is a metric label.",
    ),
    Option(
        "executor_enabled",
        None,
        ("SELDON_EXECUTOR_ENABLED",),
        True,
        parse_bool,
        "False: legacy mode without the feedback reward metrics.",
    ),
    Option(
        "load_in_worker",
        "--load-in-worker",
        ("MODELSERVE_LOAD_IN_WORKER",),
        False,
        parse_bool,
        "Run the model's load() in every worker after the fork instead of once before it "
        "(for frameworks that are not fork-safe; costs one copy of the model per worker).",
        is_flag=True,
    ),
    Option(
        "max_body_size",
        "--max-body-size",
        ("MODELSERVE_MAX_BODY_SIZE",),
        100 << 20,
        _size,
        "Largest request body accepted (bytes; K/M/G suffixes), larger ones answer 413.",
        "SIZE",
    ),
    Option(
        "grpc_max_message_size",
        "--grpc-max-message-size",
        ("MODELSERVE_GRPC_MAX_MESSAGE_SIZE",),
        256 << 20,
        _size,
        "Largest gRPC message sent or received (bytes; K/M/G suffixes).",
        "SIZE",
    ),
    Option(
        "max_batch_size",
        "--max-batch-size",
        ("MODELSERVE_MAX_BATCH_SIZE",),
        1,
        _non_negative_int,
        "Most concurrent predict requests merged into one user call along the first axis (0 or 1: no batching).",
        "N",
    ),
    Option(
        "max_batch_time_ms",
        "--max-batch-time-ms",
        ("MODELSERVE_MAX_BATCH_TIME_MS",),
        5.0,
        _positive_float,
        "With batching, how long a request waits for more to merge with while the model is busy "
        "(an idle model takes a request at once).",
        "MS",
    ),
    Option(
        "model_name",
        "--model-name",
        ("MODELSERVE_MODEL_NAME",),
        None,
        str,
        "Name of the model in V2 and KServe V1 paths and answers (default: the class name).",
        "NAME",
    ),
    Option(
        "model_version",
        "--model-version",
        ("MODELSERVE_MODEL_VERSION",),
        None,
        str,
        "Version of the model for V2 (/v2/models/NAME/versions/VERSION; default: none).",
        "VERSION",
    ),
    Option(
        "graceful_timeout",
        "--graceful-timeout",
        ("MODELSERVE_GRACEFUL_TIMEOUT",),
        30.0,
        _positive_float,
        "Seconds in-flight requests get to finish on shutdown.",
        "SECONDS",
    ),
)

_BY_NAME = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings; build it with ``Settings.load``."""

    interface_name: str
    http_port: int = 9000
    grpc_port: int = 5000
    metrics_port: int = 6000
    host: str = "0.0.0.0"
    service_type: str = "MODEL"
    parameters: list[Any] = field(default_factory=list)
    log_level: str = "INFO"
    log_format: str = "text"
    debug: bool = False
    tracing: bool = False
    workers: int = 1
    threads: int = 1
    grpc_workers: int = 1
    grpc_threads: int = 1
    max_requests: int = 0
    max_requests_jitter: int = 0
    keepalive: int = 2
    access_log: bool = False
    pidfile: str | None = None
    single_threaded: bool = False
    filter_metrics_access_logs: bool | None = None
    pushgateway_enabled: bool = False
    pushgateway_url: str = "localhost:9091"
    pushgateway_push_interval: float = 30.0
    metrics_endpoint: str = "/metrics"
    builtin_metrics: bool = True
    payload_passthrough: bool = False
    include_metrics_in_response: bool = True
    model_metadata: str | None = None
    predictive_unit_id: str | None = None
    predictive_unit_image: str | None = None
    deployment_name: str | None = None
    predictor_name: str | None = None
    predictor_labels: str | None = None
    executor_enabled: bool = True
    load_in_worker: bool = False
    max_body_size: int = 100 << 20
    grpc_max_message_size: int = 256 << 20
    graceful_timeout: float = 30.0
    max_batch_size: int = 1
    max_batch_time_ms: float = 5.0
    model_name: str | None = None
    model_version: str | None = None

    @classmethod
    def load(
        cls,
        interface_name: str | None,
        cli_values: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """CLI values (already converted; ``None`` means not given) > environment > defaults.

        Without an interface name, ``MODEL_NAME`` (as in an s2i-built image) names the class.
        """
        cli_values = cli_values or {}
        environ = os.environ if environ is None else environ
        interface_name = interface_name or environ.get("MODEL_NAME", "").strip()
        if not interface_name:
            raise SettingsError("no model class: give its name (Module or package.module.Class) or set MODEL_NAME")
        values: dict[str, Any] = {}
        for option in OPTIONS:
            given = cli_values.get(option.name)
            if given is not None:
                values[option.name] = given
                continue
            for variable in option.env:
                if variable in environ:
                    values[option.name] = convert(option, environ[variable], source=variable)
                    break
        settings = cls(interface_name=interface_name, **values)
        settings.check()
        return settings

    def check(self) -> None:
        if not self.metrics_endpoint.startswith("/"):
            raise SettingsError(f"PREDICTIVE_UNIT_METRICS_ENDPOINT must start with '/': {self.metrics_endpoint!r}")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def user_threads(self) -> int:
        """How many user calls may run at once in a REST worker."""
        return 1 if self.single_threaded else max(1, self.threads)

    @property
    def batching(self) -> bool:
        return self.max_batch_size > 1

    @property
    def request_path(self) -> dict[str, str]:
        """``meta.requestPath`` of every answer: this unit's id and image, when deployed."""
        return {self.predictive_unit_id: self.predictive_unit_image or ""} if self.predictive_unit_id else {}

    @property
    def grpc_user_threads(self) -> int:
        """How many user calls may run at once in a gRPC worker."""
        return 1 if self.single_threaded else max(1, self.grpc_threads)

    @property
    def filter_metrics_logs(self) -> bool:
        if self.filter_metrics_access_logs is None:
            return not self.debug
        return self.filter_metrics_access_logs

    @property
    def effective_log_level(self) -> str:
        return "DEBUG" if self.debug else self.log_level


def convert(option: Option, text: str, source: str) -> Any:
    """Convert one setting's text, naming where it came from when it is wrong."""
    try:
        return option.convert(text)
    except (ValueError, TypeError) as error:
        raise SettingsError(f"{source}={text!r}: {error}") from None


def option(name: str) -> Option:
    return _BY_NAME[name]
