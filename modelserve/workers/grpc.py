"""A gRPC worker: the Seldon gRPC services on the gRPC port, which every gRPC worker binds
with SO_REUSEPORT so that the kernel spreads connections over them."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from modelserve import tracing

if TYPE_CHECKING:
    from modelserve.workers.supervisor import Slot, Supervisor


def run_grpc_worker(supervisor: Supervisor, slot: Slot) -> int:
    # grpcio is imported here, after the fork: its threads must not exist in the supervisor.
    import uvloop

    from modelserve.grpc.server import serve_async
    from modelserve.metrics import open_metrics

    model, settings = supervisor.model, supervisor.settings
    assert model is not None
    model.load()
    model.component.set_threads(settings.grpc_user_threads)
    tracer = tracing.start(settings)
    if tracer is not None:
        tracer.instrument_component(model.component)
    try:
        uvloop.run(serve_async(model, settings, open_metrics(supervisor.metrics_dir, settings), tracer))
    finally:
        model.component.close()
    if tracer is not None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # drained: a second SIGTERM must not cut the export
        tracer.shutdown()
    return 0
