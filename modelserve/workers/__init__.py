"""Serving processes: the supervisor, its REST and gRPC workers, and the one-process mode."""

from __future__ import annotations

import logging
import os

from modelserve import tracing
from modelserve.settings import Settings
from modelserve.workers.grpc import run_grpc_worker
from modelserve.workers.rest import run_rest_worker
from modelserve.workers.single import run_single
from modelserve.workers.supervisor import Supervisor

logger = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    """Serve until stopped; the exit code of the whole server."""
    if settings.pidfile:
        with open(settings.pidfile, "w") as pidfile:
            pidfile.write(f"{os.getpid()}\n")
    try:
        tracing.check(settings)
        if settings.debug:
            return run_single(settings)
        supervisor = Supervisor(settings)
        return supervisor.run({"rest": run_rest_worker, "grpc": run_grpc_worker})
    finally:
        if settings.pidfile and os.path.exists(settings.pidfile):
            os.unlink(settings.pidfile)
