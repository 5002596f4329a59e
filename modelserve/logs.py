"""Logging set-up: one line per record, on stderr, as text or as JSON for log collectors.

``configure`` runs once in the first process, before any fork, so every worker inherits
the same handler and level; uvicorn's and grpcio's loggers, and the user's own
``logging`` calls, all propagate to that root handler.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"

# The serving role of this process, in JSON records and access lines: "main" until the
# server names it ("supervisor", "rest-0", "grpc-1", "single").
_worker = "main"


def set_worker(name: str) -> None:
    global _worker
    _worker = name


def worker() -> str:
    return _worker


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, pid,
    worker, exception (when any), and the fields a record carries in ``extra={"fields": ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        millis = int((record.created - seconds) * 1000)
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            "worker": _worker,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return logging.Formatter(FORMAT)
    raise ValueError(f"unknown log format {log_format!r}: use text or json")


def configure(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn and grpcio log under these names; they must reach our handler at our level.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "grpc"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    logging.captureWarnings(True)  # warnings.warn() in the same format, for log collectors
