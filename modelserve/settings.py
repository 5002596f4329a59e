"""Every setting of the server, in one typed object.

Each setting is declared once in ``OPTIONS``: its command-line flag, the environment
variables it falls back to, the Kubernetes pod annotation it may come from, its default
and how its text is converted.  The value of a setting is taken from the command line if
given, else from the first environment variable that is set, else from the pod's
annotations (``/etc/podinfo/annotations``, as the Seldon wrapper read them), else from the
default.  ``cli.py`` builds its parser from the same table, so ``modelserve serve --help``
always lists every setting with its variables and annotation.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SERVICE_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "OUTPUT_TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
GRPC_SERVERS = ("aio", "threads")
PROTOCOLS = ("HTTP_JSON", "UPI_V1")

# The pod's annotations, as the Kubernetes downward API writes them (lines of key="value").
ANNOTATIONS_FILE = "/etc/podinfo/annotations"
ANNOTATIONS_VARIABLE = "MODELSERVE_PODINFO_ANNOTATIONS"  # another file (tests, other mounts)

# Spec 000, before Seldon's wrapper 1.5: `INTERFACE_NAME API_TYPE --port PORT`, one API per process.
LEGACY_API_TYPES = ("REST", "GRPC")
LEGACY_PORT_VARIABLE = "PREDICTIVE_UNIT_SERVICE_PORT"

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


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:  # NaN too
        raise ValueError(f"{text!r} is negative")
    return value


def _milliseconds_as_seconds(text: str) -> float:
    return _non_negative_float(text) / 1000


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


@dataclass(frozen=True)
class Gateway:
    host: str
    port: int
    prefix: str  # path of the gateway below the host, "" or "/something"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.prefix}"


def parse_url(text: str) -> Gateway:
    """``host:port``, ``host`` (port 9091) or ``http://host:port/prefix``."""
    value = text.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme != "http":
        raise ValueError(f"PUSHGATEWAY_URL={text!r}: only http:// push gateways are supported")
    if not parts.hostname:
        raise ValueError(f"PUSHGATEWAY_URL={text!r} names no host")
    try:
        port = parts.port or 9091
    except ValueError:
        raise ValueError(f"PUSHGATEWAY_URL={text!r} has an invalid port") from None
    return Gateway(parts.hostname, port, parts.path.rstrip("/"))


def _pushgateway_url(text: str) -> str:
    parse_url(text)  # a clear error at start-up, not at the first push
    return text.strip()


def _log_level(text: str) -> str:
    value = text.strip().upper()
    value = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(value, value)
    return _choice(*LOG_LEVELS)(value)


def _lenient_log_level(text: str) -> str:
    """Merlin's LOG_LEVEL: an unknown level is a warning and INFO, as in the original."""
    try:
        return _log_level(text)
    except ValueError:
        logging.getLogger("modelserve").warning("invalid log level %r: using INFO", text)
        return "INFO"


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return value


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
    annotation: str | None = None  # a pod annotation it falls back to, after the variables
    convert_annotation: Callable[[str], Any] | None = None  # when the annotation has other units


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
        "Seconds an idle keep-alive connection is kept open (0: no keep-alive, every answer closes its "
        "connection with Connection: close).",
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
        "max_url_size",
        "--max-url-size",
        ("MODELSERVE_MAX_URL_SIZE",),
        64 << 10,
        _size,
        "Longest request line (URL with its query string), larger ones answer 414.",
        "SIZE",
    ),
    Option(
        "max_header_size",
        "--max-header-size",
        ("MODELSERVE_MAX_HEADER_SIZE",),
        64 << 10,
        _size,
        "Most bytes of request headers (names and values), more answer 431.",
        "SIZE",
    ),
    Option(
        "max_header_count",
        "--max-header-count",
        ("MODELSERVE_MAX_HEADER_COUNT",),
        100,
        _non_negative_int,
        "Most request header fields, more answer 431.",
        "N",
    ),
    Option(
        "read_timeout",
        "--read-timeout",
        ("MODELSERVE_READ_TIMEOUT",),
        30.0,
        _positive_float,
        "Seconds a request's headers may take to arrive, and its body may pause (408 after that).",
        "SECONDS",
    ),
    Option(
        "max_connections",
        "--max-connections",
        ("MODELSERVE_MAX_CONNECTIONS",),
        0,
        _non_negative_int,
        "Open connections per REST worker, more answer 503 (0: what the descriptor limit allows).",
        "N",
    ),
    Option(
        "grpc_max_message_size",
        "--grpc-max-message-size",
        ("MODELSERVE_GRPC_MAX_MESSAGE_SIZE",),
        256 << 20,
        _size,
        "Largest gRPC message sent or received (bytes; K/M/G suffixes).",
        "SIZE",
        annotation="seldon.io/grpc-max-message-size",
    ),
    Option(
        "request_timeout",
        "--request-timeout",
        ("MODELSERVE_REQUEST_TIMEOUT",),
        0.0,
        _non_negative_float,
        "Seconds a request may take, from its arrival to its answer (0: no limit): then 504 / "
        "DEADLINE_EXCEEDED. A gRPC client's own deadline is honoured too.",
        "SECONDS",
        annotation="seldon.io/rest-timeout",
        convert_annotation=_milliseconds_as_seconds,
    ),
    Option(
        "worker_timeout",
        "--worker-timeout",
        ("MODELSERVE_WORKER_TIMEOUT",),
        None,
        _non_negative_float,
        "Seconds a user call may run before its worker is replaced (0: never; default: the request "
        "timeout plus 30 s when one is set, else never).",
        "SECONDS",
    ),
    Option(
        "max_queue",
        "--max-queue",
        ("MODELSERVE_MAX_QUEUE",),
        256,
        _non_negative_int,
        "Requests a worker lets wait for a user thread; more answer 503 with Retry-After / "
        "RESOURCE_EXHAUSTED at once (0: no bound).",
        "N",
    ),
    Option(
        "user_calls_on_loop",
        "--user-calls-on-loop",
        ("MODELSERVE_USER_CALLS_ON_LOOP",),
        False,
        parse_bool,
        "Run plain user methods on the event loop itself (faster for very short calls), not on user "
        "threads: health probes and other requests then wait while user code runs.",
        is_flag=True,
    ),
    Option(
        "grpc_server",
        "--grpc-server",
        ("MODELSERVE_GRPC_SERVER",),
        "threads",
        _lower_choice(*GRPC_SERVERS),
        "The gRPC server of the gRPC workers: threads (grpcio's synchronous server, each call on a pool "
        "thread, user method included) or aio (grpc.aio on the worker's event loop, user methods on "
        "user threads). Models with async methods, and batching, are served with aio.",
        "KIND",
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
    # An MLflow pyfunc model (Merlin's PyFunc server, spec 003); see MERLIN_SOURCES.
    Option(
        "model_dir",
        "--model-dir",
        (),
        None,
        str,
        "Serve the MLflow pyfunc model in this directory (Merlin's PyFunc server) instead of a class.",
        "DIR",
    ),
    Option(
        "protocol",
        "--protocol",
        ("CARAML_PROTOCOL",),
        "HTTP_JSON",
        _choice(*PROTOCOLS),
        "With --model-dir: HTTP_JSON (POST /v1/models/NAME:predict) or UPI_V1 (gRPC).",
        "PROTOCOL",
    ),
    Option(
        "model_full_name",
        "--model-full-name",
        ("CARAML_MODEL_FULL_NAME",),
        None,
        str,
        "With --model-dir: the model's name in its HTTP routes (default: NAME-VERSION, i.e. model-1).",
        "NAME",
    ),
    Option(
        "grpc_options",
        "--grpc-options",
        ("GRPC_OPTIONS",),
        {},
        _json_object,
        'JSON object of gRPC server channel arguments, e.g. {"grpc.max_concurrent_streams": 100}.',
        "JSON",
    ),
    Option(
        "grpc_concurrency",
        "--grpc-concurrency",
        ("GRPC_CONCURRENCY",),
        10,
        _non_negative_int,
        "With --model-dir and UPI_V1: user calls that may run at once in a worker (its thread pool).",
        "N",
    ),
    Option(
        "dry_run",
        "--dry-run",
        (),
        False,
        parse_bool,
        "Load the model, then exit (0 when it loads).",
        is_flag=True,
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


# With --model-dir these settings read Merlin's variables and defaults (spec 003) instead
# of Seldon's: {setting: (variables, default[, conversion])}.
MERLIN_SOURCES: dict[str, tuple[Any, ...]] = {
    "http_port": (("CARAML_HTTP_PORT",), 8080),
    "grpc_port": (("CARAML_GRPC_PORT",), 9000),
    "workers": (("WORKERS",), 1),
    "log_level": (("LOG_LEVEL",), "INFO", _lenient_log_level),
    "model_name": (("CARAML_MODEL_NAME",), "model"),
    "model_version": (("CARAML_MODEL_VERSION",), "1"),
}


def _merlin_processes(values: dict[str, Any]) -> None:
    """Merlin serves one protocol from WORKERS processes: HTTP_JSON from REST workers (with
    /metrics on the HTTP port), UPI_V1 from gRPC workers of GRPC_CONCURRENCY threads each,
    the HTTP port then answering the metrics (as prometheus_client's server did)."""
    workers = values.get("workers", 1)
    if values.get("protocol", "HTTP_JSON") == "UPI_V1":
        values.update(
            workers=0,
            grpc_workers=workers,
            grpc_threads=values.get("grpc_concurrency", 10),
            metrics_port=values.get("http_port", 8080),
        )
    else:
        values.update(grpc_workers=0)


def merlin_option(option: Option) -> Option:
    """The setting as it is read when an MLflow model is served (--model-dir)."""
    source = MERLIN_SOURCES.get(option.name)
    if source is None:
        return option
    env, default, *conversion = source
    converter = conversion[0] if conversion else option.convert
    return replace(option, env=env, default=default, convert=converter)


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
    max_url_size: int = 64 << 10
    max_header_size: int = 64 << 10
    max_header_count: int = 100
    read_timeout: float = 30.0
    max_connections: int = 0
    grpc_max_message_size: int = 256 << 20
    request_timeout: float = 0.0
    worker_timeout: float | None = None
    max_queue: int = 256
    user_calls_on_loop: bool = False
    grpc_server: str = "threads"
    graceful_timeout: float = 30.0
    max_batch_size: int = 1
    max_batch_time_ms: float = 5.0
    model_name: str | None = None
    model_version: str | None = None
    # Where each setting that is not at its default came from: a flag, a variable or an annotation.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    model_dir: str | None = None
    protocol: str = "HTTP_JSON"
    model_full_name: str | None = None
    grpc_options: dict[str, Any] = field(default_factory=dict)
    grpc_concurrency: int = 10
    dry_run: bool = False

    @classmethod
    def load(
        cls,
        interface_name: str | None,
        cli_values: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Settings:
        """CLI values (already converted; ``None`` means not given) > environment > pod
        annotations (read from their file when not given) > defaults.

        Without an interface name, ``MODEL_NAME`` (as in an s2i-built image) names the class.
        """
        cli_values = cli_values or {}
        environ = os.environ if environ is None else environ
        if cli_values.get("model_dir") is None:
            interface_name = interface_name or environ.get("MODEL_NAME", "").strip()
            if not interface_name:
                raise SettingsError(
                    "name the model: a class (Module or package.module.Class, or MODEL_NAME) "
                    "or an MLflow model directory (--model-dir DIR)"
                )
        annotations_file = environ.get(ANNOTATIONS_VARIABLE) or ANNOTATIONS_FILE
        if annotations is None:
            annotations = read_annotations(annotations_file)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        merlin = cli_values.get("model_dir") is not None
        for option in OPTIONS:
            if merlin and option.name in MERLIN_SOURCES:
                option = merlin_option(option)
                values[option.name] = option.default
            given = cli_values.get(option.name)
            if given is not None:
                values[option.name], sources[option.name] = given, option.flag or option.name
                continue
            for variable in option.env:
                if variable in environ:
                    values[option.name] = convert(option, environ[variable], source=variable)
                    sources[option.name] = variable
                    break
            else:
                if option.annotation is not None and option.annotation in annotations:
                    source = f"{annotations_file}: {option.annotation}"
                    text = annotations[option.annotation]
                    values[option.name] = convert(option, text, source, option.convert_annotation)
                    sources[option.name] = source
        if merlin:
            _merlin_processes(values)
        settings = cls(interface_name=interface_name or "", sources=sources, **values)
        settings.check()
        return settings

    def check(self) -> None:
        if not self.metrics_endpoint.startswith("/"):
            raise SettingsError(f"PREDICTIVE_UNIT_METRICS_ENDPOINT must start with '/': {self.metrics_endpoint!r}")
        ports: dict[str, int] = {}
        if self.workers or not self.merlin:  # Merlin's UPI_V1: the HTTP port is the metrics port
            ports["http_port"] = self.http_port
        ports["metrics_port"] = self.metrics_port
        if self.grpc_workers:
            ports["grpc_port"] = self.grpc_port
        taken: dict[int, str] = {}
        for name, port in ports.items():
            if port and port in taken:
                first, second = (self.sources.get(n) or f"{option(n).flag} (default)" for n in (taken[port], name))
                raise SettingsError(f"{first} and {second} are both {port}: every port needs its own number")
            taken[port] = name

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
    def stuck_after(self) -> float:
        """Seconds a user call may run before its worker is replaced (0: never)."""
        if self.worker_timeout is not None:
            return self.worker_timeout
        return self.request_timeout + 30.0 if self.request_timeout else 0.0

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

    @property
    def merlin(self) -> bool:
        """An MLflow pyfunc model is served (--model-dir), as Merlin's PyFunc server would."""
        return self.model_dir is not None

    @property
    def served_name(self) -> str:
        """With --model-dir: the model's name in its routes (CARAML_MODEL_FULL_NAME)."""
        if self.model_full_name:
            return self.model_full_name
        return f"{self.model_name or 'model'}-{self.model_version or '1'}"


def convert(option: Option, text: str, source: str, converter: Callable[[str], Any] | None = None) -> Any:
    """Convert one setting's text, naming where it came from when it is wrong."""
    try:
        return (converter or option.convert)(text)
    except (ValueError, TypeError) as error:
        raise SettingsError(f"{source}={text!r}: {error}") from None


def read_annotations(path: str) -> dict[str, str]:
    """The pod annotations of a downward-API file (``key="value"`` lines); none without the file."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingsError(f"cannot read the pod annotations {path}: {error.strerror}") from None
    annotations = {}
    for line in text.splitlines():
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            continue
        annotations[key.strip()] = _unquote(value.strip())
    return annotations


def _unquote(value: str) -> str:
    """A value as Kubernetes quotes it (Go's %q, which JSON reads but for rare escapes)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            unquoted = json.loads(value)
        except ValueError:
            return value[1:-1]
        return unquoted if isinstance(unquoted, str) else value[1:-1]
    return value


def legacy_ports(
    api_type: str | None, port: str | None, cli_values: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """What spec 000's command line meant, in today's settings: ``INTERFACE_NAME API_TYPE``
    with ``--port`` / ``PREDICTIVE_UNIT_SERVICE_PORT``, the port of that one API.

    Both APIs are always served now, each on its own port, so the API type only chooses
    which port ``--port`` and the variable stand for (REST's unless it is GRPC).  Returns
    the command-line values they stand for (the caller merges them with its own) and the
    deprecation warnings to log; a SettingsError when they contradict the flags given.
    """
    warnings = []
    target = option("http_port")
    if api_type is not None:
        kind = api_type.strip().upper()
        if kind not in LEGACY_API_TYPES:
            raise SettingsError(
                f"unexpected argument {api_type!r} after the class name (the only other positional argument "
                f"understood is the API type of Seldon's wrapper before 1.5: {' or '.join(LEGACY_API_TYPES)})"
            )
        if kind == "GRPC":
            target = option("grpc_port")
        warnings.append(
            f"the API type argument {api_type!r} is deprecated and has no effect (Seldon's wrapper dropped it "
            "in 1.5): REST and gRPC are both served, on --http-port and --grpc-port"
        )
    assert target.flag is not None
    variable = target.env[0]
    if port is not None:
        if cli_values.get(target.name) is not None:
            raise SettingsError(f"--port and {target.flag} are both given: --port is the old name of {target.flag}")
        value = convert(target, port, source="--port")
        warnings.append(f"--port is deprecated: serving on {target.flag} {value}; use {target.flag}")
        return {target.name: value}, warnings
    if LEGACY_PORT_VARIABLE not in environ:
        return {}, warnings
    text = environ[LEGACY_PORT_VARIABLE]
    value = convert(target, text, source=LEGACY_PORT_VARIABLE)
    if cli_values.get(target.name) is not None or variable in environ:
        current, source = cli_values.get(target.name), target.flag
        if current is None:
            current, source = convert(target, environ[variable], source=variable), variable
        if current != value:
            warnings.append(f"{LEGACY_PORT_VARIABLE}={text} is ignored: {source} gives the port, {current}")
        return {}, warnings
    warnings.append(f"{LEGACY_PORT_VARIABLE} is deprecated: serving on {variable}={value}; set {variable}")
    return {target.name: value}, warnings


def option(name: str) -> Option:
    return _BY_NAME[name]
