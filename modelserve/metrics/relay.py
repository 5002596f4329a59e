"""The merged metrics for a worker that serves them on its own port (Merlin's ``/metrics``).

Only the supervisor holds every worker's counts (those of exited workers included), so
a worker asks it: the supervisor answers scrapes on a Unix socket in the metrics
directory too (``SOCKET``), and ``scrape`` relays one.  In the one-process mode there is
no supervisor: the process merges the directory itself.

Also here: the metrics a model registers with ``prometheus_client`` (Merlin's habit),
which prometheus_client's multiprocess mode writes into ``PROMETHEUS_MULTIPROC_DIR``
(``multiprocess_dir``), merged by ``user_metrics_collector``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

SOCKET = "scrape.sock"
TIMEOUT = 10.0


def socket_path(directory: str) -> str:
    return os.path.join(directory, SOCKET)


async def scrape(directory: str, accept: str) -> tuple[bytes, str]:
    """(body, content type) of the merged exposition, for an Accept header."""
    try:
        reader, writer = await asyncio.open_unix_connection(socket_path(directory))
    except (FileNotFoundError, ConnectionRefusedError):
        return _render_here(directory, accept)
    try:
        writer.write(f"GET /metrics HTTP/1.0\r\nAccept: {accept}\r\n\r\n".encode("latin-1"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200"):
        raise RuntimeError(f"the supervisor's metrics answered {lines[0]!r}")
    content_type = "text/plain; version=0.0.4; charset=utf-8"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            content_type = value.strip()
    return body, content_type


def _render_here(directory: str, accept: str) -> tuple[bytes, str]:
    from modelserve.metrics.merge import Exposition, MetricsMerger

    exposition = Exposition(MetricsMerger(directory))
    add_user_metrics(exposition)
    return exposition.render(accept)


# -- the model's own prometheus_client metrics

MULTIPROC_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def multiprocess_dir() -> str | None:
    for variable in MULTIPROC_VARIABLES:
        value = os.environ.get(variable)
        if value:
            return value
    return None


def enable_user_metrics() -> str:
    """prometheus_client's multiprocess mode for the model's metrics, before the model loads.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` (Merlin's image sets it), else a new temporary
    directory; metrics created from now on write their values there, in every process."""
    directory = multiprocess_dir()
    if directory is None:
        directory = tempfile.mkdtemp(prefix=_OURS)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # chosen at import: choose again
    return directory


_OURS = "modelserve-prometheus-"


def created_here(directory: str) -> bool:
    """Whether ``enable_user_metrics`` made the directory (then the server removes it)."""
    return os.path.basename(directory.rstrip("/")).startswith(_OURS)


def add_user_metrics(exposition: Any) -> None:
    """The model's prometheus_client metrics (multiprocess mode) next to ours, if any."""
    directory = multiprocess_dir()
    if directory is None or not os.path.isdir(directory):
        return
    from prometheus_client.multiprocess import MultiProcessCollector

    MultiProcessCollector(exposition.registry, path=directory)


def process_dead(pid: int) -> None:
    """A worker exited: its live gauges go (prometheus_client's mark_process_dead)."""
    directory = multiprocess_dir()
    if directory is None:
        return
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(pid, directory)
    except OSError:
        pass
