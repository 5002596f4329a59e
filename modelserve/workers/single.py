"""One process serving everything (``--debug``): REST, gRPC and metrics on one event loop.

The simplest setup for development: no fork, so a debugger or ``print`` sees every
call.  The model is loaded once and the REST app and the gRPC server share its data
plane.  SIGTERM or SIGINT drains both: health turns not-ready, then the HTTP server and
the gRPC server let calls in flight finish (``--graceful-timeout``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from modelserve import logs
from modelserve.access_log import AccessLogApp
from modelserve.errors import StartupError
from modelserve.metrics import Exposition, MetricsMerger, make_directory, remove_directory
from modelserve.metrics.app import MetricsApp
from modelserve.model import build_model
from modelserve.pushgateway import AsyncPusher
from modelserve.rest.server import HttpServer, connection_limit, limits
from modelserve.settings import Settings
from modelserve.workers.assembly import Assembly, assemble, grpc_server, http_error, rest_app
from modelserve.workers.sockets import bind, close_to_new_connections

logger = logging.getLogger("modelserve.single")


def run_single(settings: Settings) -> int:
    import uvloop

    logs.set_worker("single")
    if settings.http_port == settings.metrics_port:
        raise StartupError(f"the HTTP and metrics ports must differ (both {settings.http_port})")
    directory = make_directory()
    try:
        assembly = assemble(build_model(settings), settings, directory, settings.user_threads)
        try:
            uvloop.run(serve_all(assembly, settings, directory))
        finally:
            assembly.close()
    finally:
        remove_directory(directory)
    return 0


async def serve_all(assembly: Assembly, settings: Settings, metrics_dir: str) -> None:
    plane = assembly.plane
    rest_socket, metrics_socket = bind(settings.host, settings.http_port), bind(settings.host, settings.metrics_port)
    render = Exposition(MetricsMerger(metrics_dir)).render
    metrics: Any = MetricsApp(settings.metrics_endpoint, render)
    if settings.access_log and not settings.filter_metrics_logs:
        metrics = AccessLogApp(metrics)
    web = HttpServer(limits(settings), connection_limit(settings))
    await web.listen(rest_socket, rest_app(assembly, settings), http_error(assembly))
    await web.listen(metrics_socket, metrics, http_error(assembly))
    grpc: Any = None
    if settings.grpc_workers > 0:
        grpc = grpc_server(assembly, settings)
        grpc.bind(settings.host, settings.grpc_port)
        await grpc.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info(
        "serving %s in one process: REST on %s:%d, gRPC on %s, metrics on :%d%s",
        settings.interface_name, settings.host, settings.http_port,
        f"{settings.host}:{grpc.port}" if grpc else "(off)",
        settings.metrics_port, settings.metrics_endpoint,
    )
    pusher = AsyncPusher(settings, render) if settings.pushgateway_enabled else None
    if pusher is not None:
        pusher.start()
    await stop.wait()
    plane.drain()
    close_to_new_connections(rest_socket)
    draining = [asyncio.ensure_future(web.drain(settings.graceful_timeout, accept_queued=True))]
    if grpc is not None:
        draining.append(asyncio.ensure_future(grpc.stop(settings.graceful_timeout)))
    await asyncio.gather(*draining)
    if pusher is not None:
        await pusher.stop()  # drained: the final counts are in
