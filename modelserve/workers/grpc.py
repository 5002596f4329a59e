"""A gRPC worker: the Seldon gRPC services on the gRPC port, which every gRPC worker binds
with SO_REUSEPORT so that the kernel spreads connections over them."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    try:
        uvloop.run(serve_async(model, settings, open_metrics(supervisor.metrics_dir, settings)))
    finally:
        model.component.close()
    return 0
