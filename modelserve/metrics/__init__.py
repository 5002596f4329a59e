"""Metrics: each process records into its own shared-memory file (``store``), the
supervisor merges them for the metrics port (``merge``), ``recorder`` says what is
recorded, ``app`` serves the exposition in one-process mode."""

from __future__ import annotations

import os
import shutil
import tempfile

from modelserve.metrics.merge import Exposition, MetricsMerger
from modelserve.metrics.recorder import ServerMetrics
from modelserve.metrics.store import MetricsStore
from modelserve.settings import Settings

__all__ = ["Exposition", "MetricsMerger", "MetricsStore", "ServerMetrics", "make_directory", "open_metrics"]


PREFIX = "modelserve-metrics-"


def make_directory(parent: str | None = None) -> str:
    """A private directory for the processes' metric files, in memory (/dev/shm) when possible.

    Its name carries the creating process's pid, so that the directories of servers that
    were killed before they could remove theirs are removed by the next one.
    """
    if parent is None:
        shm = "/dev/shm"
        parent = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()
    _remove_orphans(parent)
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)


def _remove_orphans(parent: str) -> None:
    for name in os.listdir(parent):
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if name.startswith(PREFIX) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_directory(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def open_metrics(directory: str, settings: Settings) -> ServerMetrics:
    """This process's metrics (call it in each process, after the fork)."""
    return ServerMetrics(MetricsStore(directory), settings)
