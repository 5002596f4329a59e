"""Starting the serving processes for a set of settings.

The model is built and loaded once, here, before anything serves; then the server
runs.  (One process for now: REST and metrics on one event loop.)
"""

from __future__ import annotations

import logging
import os

from modelserve.model import load_model
from modelserve.server import serve
from modelserve.settings import Settings

logger = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    model = load_model(settings)
    if settings.pidfile:
        with open(settings.pidfile, "w") as pidfile:
            pidfile.write(f"{os.getpid()}\n")
    try:
        serve(model, settings)
    finally:
        if settings.pidfile and os.path.exists(settings.pidfile):
            os.unlink(settings.pidfile)
    return 0
