"""The ceilings: servers that answer fixed bytes (the right answer, read from ``BENCH_ANSWER``) at once.

* ``app``: a bare ASGI app for uvicorn (httptools + uvloop), the HTTP stack modelserve runs on;
  it reads the whole request body, then sends the answer.
* ``python -m bench.ceilings PORT WORKERS [uvloop|threads]``: a bare grpc.aio server (on
  asyncio, or on uvloop) or grpcio's synchronous server with a thread pool (``threads``: the
  gRPC stack modelserve runs on by default) answering every unary call with the answer;
  WORKERS processes share PORT.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

ANSWER = Path(os.environ["BENCH_ANSWER"]).read_bytes() if "BENCH_ANSWER" in os.environ else b"{}"
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())],
}
_BODY = {"type": "http.response.body", "body": ANSWER}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(_START)
    await send(_BODY)


async def serve_grpc(port: int) -> None:
    import grpc

    async def answer(request: bytes, context: Any) -> bytes:
        return ANSWER

    class Fixed(grpc.GenericRpcHandler):
        def service(self, details: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(answer)

    server = grpc.aio.server(options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", -1),
                                      ("grpc.max_send_message_length", -1)])
    server.add_generic_rpc_handlers((Fixed(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def serve_grpc_threads(port: int) -> None:
    """grpcio's synchronous server, its pool as modelserve's threaded server sizes it (one
    user call + the default --max-queue 256 + 4 for probes; threads are made as calls need)."""
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    def answer(request: bytes, context: Any) -> bytes:
        return ANSWER

    class Fixed(grpc.GenericRpcHandler):
        def service(self, details: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(answer)

    server = grpc.server(ThreadPoolExecutor(max_workers=1 + 256 + 4),
                         options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", -1),
                                  ("grpc.max_send_message_length", -1)])
    server.add_generic_rpc_handlers((Fixed(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    for _ in range(workers - 1):
        if os.fork() == 0:
            break
    if sys.argv[3:] == ["threads"]:  # the server modelserve's gRPC workers run by default
        serve_grpc_threads(port)
    elif sys.argv[3:] == ["uvloop"]:  # the loop modelserve's workers run on
        import uvloop

        uvloop.run(serve_grpc(port))
    else:
        asyncio.run(serve_grpc(port))


if __name__ == "__main__":
    main()
