"""The push gateway client's pieces: the URL, the grouping path, the request, the answer."""

from __future__ import annotations

import base64
import logging
import socket

import pytest

from modelserve.pushgateway import (
    Gateway,
    PushError,
    Streak,
    answer_complete,
    check_answer,
    grouping,
    grouping_path,
    parse_url,
    request_bytes,
)
from modelserve.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("text", "gateway"),
    [
        ("localhost:9091", Gateway("localhost", 9091, "")),
        ("gateway", Gateway("gateway", 9091, "")),
        ("http://10.0.0.7:8080", Gateway("10.0.0.7", 8080, "")),
        ("http://gw.monitoring:9091/push/", Gateway("gw.monitoring", 9091, "/push")),
        ("[::1]:9091", Gateway("::1", 9091, "")),
    ],
)
def test_url_forms(text: str, gateway: Gateway) -> None:
    assert parse_url(text) == gateway


@pytest.mark.parametrize("text", ["https://gw:9091", "http://", "gw:notaport", "ftp://gw"])
def test_bad_urls_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_url(text)


def test_settings_defaults_and_a_bad_url() -> None:
    settings = Settings.load("M", environ={})
    assert (settings.pushgateway_enabled, settings.pushgateway_url, settings.pushgateway_push_interval) == (
        False, "localhost:9091", 30.0
    )
    settings = Settings.load(
        "M", environ={"PUSHGATEWAY_ENABLED": "true", "PUSHGATEWAY_URL": "gw:1", "PUSHGATEWAY_PUSH_INTERVAL_SEC": "2.5"}
    )
    assert (settings.pushgateway_enabled, settings.pushgateway_url, settings.pushgateway_push_interval) == (
        True, "gw:1", 2.5
    )
    with pytest.raises(SettingsError, match="PUSHGATEWAY_URL"):
        Settings.load("M", environ={"PUSHGATEWAY_URL": "https://gw"})
    with pytest.raises(SettingsError, match="PUSHGATEWAY_PUSH_INTERVAL_SEC"):
        Settings.load("M", environ={"PUSHGATEWAY_PUSH_INTERVAL_SEC": "0"})


def test_grouping_is_the_model_and_host_and_port() -> None:
    job, labels = grouping(Settings.load("pkg.module.Model", {"http_port": 9123}, {}))
    assert job == "pkg.module.Model"
    assert labels == {"instance": f"{socket.gethostname()}:9123"}


def test_grouping_path_encodes_values() -> None:
    assert grouping_path("Model", {"instance": "host:9000"}) == "/metrics/job/Model/instance/host%3A9000"
    slash = base64.urlsafe_b64encode(b"a/b").decode()
    assert grouping_path("a/b", {"instance": ""}) == f"/metrics/job@base64/{slash}/instance@base64/="


def test_request_is_a_put_with_the_body() -> None:
    request = request_bytes(Gateway("gw", 9091, "/p"), "/metrics/job/M", b"x 1\n", "text/plain; version=0.0.4")
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "PUT /p/metrics/job/M HTTP/1.1"
    assert "Host: gw:9091" in lines
    assert "Content-Length: 4" in lines
    assert "Content-Type: text/plain; version=0.0.4" in lines
    assert body == b"x 1\n"


def test_answers() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert answer_complete(ok)
    check_answer(ok)
    check_answer(b"HTTP/1.1 202 Accepted\r\n\r\n")
    assert not answer_complete(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(PushError, match="400 Bad Request: text format parsing error"):
        check_answer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 26\r\n\r\ntext format parsing error\n")
    with pytest.raises(PushError, match="no answer"):
        check_answer(b"")
    with pytest.raises(PushError, match="not an HTTP answer"):
        check_answer(b"SSH-2.0-OpenSSH\r\n")


def test_a_failure_streak_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    streak = Streak("http://gw:9091/metrics/job/M", 1.0)
    with caplog.at_level(logging.INFO, logger="modelserve.pushgateway"):
        streak.succeeded()
        streak.succeeded()
        for _ in range(5):
            streak.failed("connection refused")
        streak.succeeded()
        streak.failed("timeout")
    messages = [(r.levelname, r.getMessage().split(" (")[0]) for r in caplog.records]
    assert messages == [
        ("INFO", "pushed metrics to http://gw:9091/metrics/job/M"),
        ("WARNING", "pushing metrics to http://gw:9091/metrics/job/M failed: connection refused"),
        ("INFO", "pushing metrics to http://gw:9091/metrics/job/M works again"),
        ("WARNING", "pushing metrics to http://gw:9091/metrics/job/M failed: timeout"),
    ]
