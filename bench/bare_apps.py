"""Bare apps for measuring the HTTP-stack ceiling (no framework, no model).

Both apps read the whole request body and answer a fixed JSON payload:

    {"data":{"names":[],"ndarray":[[1,2,3,4]]},"meta":{}}

* ``bare_asgi``  -- ASGI 3 app (uvicorn, ``granian --interface asgi``)
* ``bare_rsgi``  -- RSGI app (``granian --interface rsgi``); protocol as in the
  installed granian 2.8.7: ``await protocol()`` returns the whole body as bytes,
  ``protocol.response_bytes(status, headers, body)`` sends the response.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"data":{"names":[],"ndarray":[[1,2,3,4]]},"meta":{}}'
_LEN = str(len(BODY))

_ASGI_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", _LEN.encode()),
    ],
}
_ASGI_BODY = {"type": "http.response.body", "body": BODY, "more_body": False}

_RSGI_HEADERS = [("content-type", "application/json"), ("content-length", _LEN)]


async def bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    typ = scope["type"]
    if typ == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if typ != "http":
        return
    # Read the whole request body.
    chunks = []
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    _ = b"".join(chunks)
    await send(_ASGI_START)
    await send(_ASGI_BODY)


async def bare_rsgi(scope: Any, protocol: Any) -> None:
    if scope.proto != "http":
        return
    _ = await protocol()  # whole request body (bytes)
    protocol.response_bytes(200, _RSGI_HEADERS, BODY)
