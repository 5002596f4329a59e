"""Logging set-up: the JSON formatter, the log level and format settings, the access record."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from modelserve import access_log, logs
from modelserve.settings import Settings, SettingsError


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, worker = root.handlers[:], root.level, logs.worker()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.set_worker(worker)
    logging.captureWarnings(False)


def record(message: str = "hello %s", args: tuple = ("world",), exc_info=None) -> logging.LogRecord:  # type: ignore[no-untyped-def]
    return logging.LogRecord("some.logger", logging.WARNING, __file__, 1, message, args, exc_info)


def test_json_line_has_time_level_logger_message_pid_worker() -> None:
    logs.set_worker("rest-3")
    line = logs.JsonFormatter().format(record())
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "some.logger"
    assert entry["message"] == "hello world"
    assert entry["worker"] == "rest-3"
    assert isinstance(entry["pid"], int)
    assert "exception" not in entry
    assert entry["time"].endswith("Z")
    when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
    assert when.utcoffset() == timedelta(0)
    assert abs(when.timestamp() - datetime.now(UTC).timestamp()) < 60


def test_json_line_carries_the_exception_text() -> None:
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        failed = record("failed", (), exc_info=sys.exc_info())
    entry = json.loads(logs.JsonFormatter().format(failed))
    assert entry["message"] == "failed"
    assert "Traceback" in entry["exception"]
    assert "ZeroDivisionError: boom" in entry["exception"]


def test_json_line_merges_the_record_fields_and_escapes_text() -> None:
    entry_record = record('quote " newline \n tab \t', ())
    entry_record.fields = {"method": "GET", "status": 200, "odd": object()}
    entry = json.loads(logs.JsonFormatter().format(entry_record))
    assert entry["message"] == 'quote " newline \n tab \t'
    assert entry["method"] == "GET"
    assert entry["status"] == 200
    assert entry["odd"].startswith("<object")


def test_configure_json_reaches_user_uvicorn_and_grpc_loggers() -> None:
    stream = io.StringIO()
    saved, sys.stderr = sys.stderr, stream
    try:
        logs.configure("DEBUG", "json")
    finally:
        sys.stderr = saved
    for name in ("user_model", "uvicorn.error", "grpc._cython.cygrpc"):
        logging.getLogger(name).debug("from %s", name)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["message"], line["level"]) for line in lines] == [
        ("user_model", "from user_model", "DEBUG"),
        ("uvicorn.error", "from uvicorn.error", "DEBUG"),
        ("grpc._cython.cygrpc", "from grpc._cython.cygrpc", "DEBUG"),
    ]


def test_configure_level_drops_lower_records() -> None:
    stream = io.StringIO()
    saved, sys.stderr = sys.stderr, stream
    try:
        logs.configure("WARNING", "text")
    finally:
        sys.stderr = saved
    logging.getLogger("user_model").info("not shown")
    logging.getLogger("uvicorn.error").info("not shown either")
    logging.getLogger("user_model").warning("shown")
    text = stream.getvalue()
    assert "not shown" not in text
    assert text.count("\n") == 1
    assert " WARNING [" in text and "user_model: shown" in text


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        logs.formatter("xml")


@pytest.mark.parametrize(
    ("environ", "cli", "level"),
    [
        ({}, {}, "INFO"),
        ({"LOG_LEVEL_ENV": "warn"}, {}, "WARNING"),
        ({"SELDON_LOG_LEVEL": "debug"}, {}, "DEBUG"),
        ({"LOG_LEVEL_ENV": "ERROR", "SELDON_LOG_LEVEL": "DEBUG"}, {}, "ERROR"),
        ({"LOG_LEVEL_ENV": "ERROR"}, {"log_level": "CRITICAL"}, "CRITICAL"),
        ({"LOG_LEVEL_ENV": "ERROR", "SELDON_DEBUG": "1"}, {}, "DEBUG"),
    ],
)
def test_log_level_setting(environ: dict[str, str], cli: dict[str, str], level: str) -> None:
    assert Settings.load("M", cli, environ).effective_log_level == level


def test_log_format_setting() -> None:
    assert Settings.load("M", environ={}).log_format == "text"
    assert Settings.load("M", environ={"MODELSERVE_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="MODELSERVE_LOG_FORMAT"):
        Settings.load("M", environ={"MODELSERVE_LOG_FORMAT": "xml"})


def test_access_record_fields(caplog: pytest.LogCaptureFixture) -> None:
    logs.set_worker("grpc-1")
    with caplog.at_level(logging.INFO, logger="modelserve.access"):
        access_log.record("POST", "/predict", 200, 0.0123456)
        access_log.record("/seldon.protos.Model/Predict", None, "INVALID_ARGUMENT", 0.002)
        access_log.record("GET", "/predict", None, 0.5)
    first, second, third = caplog.records
    assert first.getMessage() == "POST /predict 200 12.346ms grpc-1"
    assert first.fields == {  # type: ignore[attr-defined]
        "method": "POST", "path": "/predict", "status": 200, "duration_ms": 12.346, "worker": "grpc-1"
    }
    assert second.getMessage() == "/seldon.protos.Model/Predict INVALID_ARGUMENT 2.000ms grpc-1"
    assert third.getMessage() == "GET /predict - 500.000ms grpc-1"
