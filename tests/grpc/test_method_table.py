"""The gRPC server's one table of methods (in process; the served behaviour is in test_server.py)."""

from __future__ import annotations

import asyncio

import grpc

from modelserve.dataplane import DataPlane
from modelserve.grpc.server import GrpcServer, MethodTable, _Collector
from modelserve.model import build_model
from modelserve.settings import Settings
from modelserve.workers.assembly import PROTOCOLS


def test_every_method_is_in_the_table() -> None:
    settings = Settings("tests.models.IdentityModel.IdentityModel")
    model = build_model(settings)
    model.load()
    handlers = [protocol(DataPlane(model, settings), settings) for protocol in PROTOCOLS]

    async def build() -> GrpcServer:
        return GrpcServer(handlers, settings, lambda: True)

    server = asyncio.run(build())
    ours = {f"/{m.service}/{m.name}" for handler in handlers for m in handler.rpc_methods()}
    health = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}
    reflection = {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}
    assert ours | health | reflection <= set(server.methods)
    assert all(path in ours or path.startswith(("/grpc.health.v1.", "/grpc.reflection.")) for path in server.methods)
    assert len(ours) > 20  # seldon.protos' services and V2's: one lookup finds any of them


def test_table_lookup() -> None:
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    table = MethodTable({"/a.B/C": handler})

    class Details(grpc.HandlerCallDetails):
        def __init__(self, method: str):
            self.method = method
            self.invocation_metadata = ()

    assert table.service(Details("/a.B/C")) is handler
    assert table.service(Details("/a.B/D")) is None


def test_older_generated_code_that_only_adds_a_generic_handler_is_kept() -> None:
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    collector = _Collector({})
    registered = grpc.method_handlers_generic_handler("new.Service", {"M": handler})
    collector.add_generic_rpc_handlers((registered,))
    collector.add_registered_method_handlers("new.Service", {"M": handler})
    only_generic = grpc.method_handlers_generic_handler("old.Service", {"M": handler})
    collector.add_generic_rpc_handlers((only_generic,))
    assert collector.table == {"/new.Service/M": handler}
    assert collector.leftovers() == (only_generic,)
