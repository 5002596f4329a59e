"""The threaded gRPC server (``--grpc-server threads``, the default) against grpc.aio: the
same answers, byte for byte, to the same calls; and which models each one serves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from modelserve.codecs import messages
from modelserve.grpc.threaded import ThreadGate
from tests.conftest import wait_for
from tests.grpc.conftest import GrpcProcess


def seldon(**fields: Any) -> bytes:
    return bytes(messages.SeldonMessage(**fields).SerializeToString())


CALLS = [
    ("/seldon.protos.Model/Predict", seldon(strData="ok")),
    ("/seldon.protos.Model/Predict", seldon(strData="reject")),  # the model's own status
    ("/seldon.protos.Model/Predict", seldon(strData="crash")),  # a user exception
    ("/seldon.protos.Model/Predict", seldon(strData="bad-type")),  # an answer that cannot be encoded
    ("/seldon.protos.Model/Predict", b""),  # no payload
    ("/seldon.protos.Model/Predict", b"\xff\xff\xff"),  # undecodable
    ("/seldon.protos.Seldon/Predict", seldon(strData="ok")),
    ("/seldon.protos.Generic/TransformInput", seldon(strData="crash")),
    ("/seldon.protos.Model/SendFeedback", b""),
    ("/seldon.protos.Model/Metadata", b""),
    ("/seldon.protos.Nothing/Here", b""),  # unknown method
    ("/inference.GRPCInferenceService/ServerLive", b""),
    ("/inference.GRPCInferenceService/ModelInfer", b"\x0a\x01x"),  # unknown model
]


def outcome(channel: grpc.Channel, method: str, request: bytes) -> tuple[Any, ...]:
    call = channel.unary_unary(method)
    try:
        return ("OK", call(request, timeout=10), ())
    except grpc.RpcError as error:
        trailers = tuple((k, v) for k, v in (error.trailing_metadata() or ()) if not k.startswith("grpc-"))  # type: ignore[attr-defined]
        details = re.sub(r" at 0x[0-9a-f]+", " at 0x...", error.details())  # type: ignore[attr-defined]
        return (error.code().name, details, trailers)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def both() -> Iterator[dict[str, GrpcProcess]]:
    servers = {kind: GrpcProcess("FailingModel", grpc_server=kind) for kind in ("threads", "aio")}
    try:
        yield {kind: server.wait_ready() for kind, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()


def test_each_server_says_which_it_is(both: dict[str, GrpcProcess]) -> None:
    assert wait_for(lambda: "gRPC (threads) on" in both["threads"].output())
    assert wait_for(lambda: "gRPC (aio) on" in both["aio"].output())


@pytest.mark.parametrize("method, request_bytes", CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CALLS)])
def test_both_servers_answer_the_same(both: dict[str, GrpcProcess], method: str, request_bytes: bytes) -> None:
    threads, aio = (outcome(both[kind].channel, method, request_bytes) for kind in ("threads", "aio"))
    assert threads == aio


def test_the_metrics_count_calls_alike(both: dict[str, GrpcProcess]) -> None:
    import httpx

    def samples(server: GrpcProcess) -> list[str]:
        text = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics").text
        return sorted(line.split(" ")[0] for line in text.splitlines()
                      if line.startswith("modelserve_requests_total") and 'transport="grpc"' in line)

    for server in both.values():
        outcome(server.channel, "/seldon.protos.Model/Predict", seldon(strData="ok"))
    assert samples(both["threads"]) and samples(both["threads"]) == samples(both["aio"])


@pytest.mark.parametrize(
    "model, flags, served, level",
    [
        ("IdentityModel", {}, "threads", None),
        ("AsyncModel", {}, "aio", "INFO"),  # async methods need an event loop
        ("AsyncModel", {"grpc_server": "threads"}, "aio", "WARNING"),  # asked for: said louder
        ("IdentityModel", {"max_batch_size": 4}, "aio", "INFO"),  # batching merges on a loop
        ("IdentityModel", {"access_log": True}, "threads", None),
    ],
)
def test_the_server_a_model_gets(start_grpc, model: str, flags: dict[str, Any], served: str, level: str | None) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc(model, **flags)
    assert wait_for(lambda: f"gRPC ({served}) on" in server.output())
    said = [line for line in server.output().splitlines() if "not the threaded server" in line]
    assert (level is None and not said) or (level is not None and level in said[0])
    answer = outcome(server.channel, "/seldon.protos.Model/Predict", seldon(strData="x"))
    assert answer[0] == "OK"


def test_the_gate_tells_its_loop_when_the_last_call_left_and_when_to_recycle() -> None:
    async def scenario() -> list[str]:
        events: list[str] = []
        loop = asyncio.get_running_loop()
        gate = ThreadGate(loop, max_calls=2, on_max_calls=lambda: events.append("recycle"))
        gate.entered()
        gate.entered()
        await loop.run_in_executor(None, gate.left)  # from another thread, as the pool's
        await asyncio.sleep(0.01)
        assert events == []
        gate.close()
        assert not gate.idle.is_set()
        await loop.run_in_executor(None, gate.left)
        await asyncio.wait_for(gate.idle.wait(), 5)
        return events

    assert asyncio.run(scenario()) == []  # draining: no recycling on the way out


def test_the_gate_recycles_after_max_calls() -> None:
    async def scenario() -> list[str]:
        events: list[str] = []
        loop = asyncio.get_running_loop()
        gate = ThreadGate(loop, max_calls=2, on_max_calls=lambda: events.append("recycle"))
        for _ in range(3):
            gate.entered()
            await loop.run_in_executor(None, gate.left)
        await asyncio.sleep(0.05)
        return events

    assert asyncio.run(scenario()) == ["recycle"]
