"""Metrics: each process records into its own shared-memory file (``store``), the
supervisor merges them for the metrics port (``aggregate``), ``recorder`` says what is
recorded, ``app`` serves the exposition in one-process mode."""

from __future__ import annotations

import os
import shutil
import tempfile

from modelserve.metrics.aggregate import Aggregator, Exposition
from modelserve.metrics.recorder import ServerMetrics
from modelserve.metrics.store import MetricsStore
from modelserve.settings import Settings

__all__ = ["Aggregator", "Exposition", "MetricsStore", "ServerMetrics", "make_directory", "open_metrics"]


def make_directory() -> str:
    """A private directory for the processes' metric files, in memory (/dev/shm) when possible."""
    shm = "/dev/shm"
    parent = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="modelserve-metrics-", dir=parent)


def remove_directory(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def open_metrics(directory: str, settings: Settings) -> ServerMetrics:
    """This process's metrics (call it in each process, after the fork)."""
    return ServerMetrics(MetricsStore(directory), settings)
