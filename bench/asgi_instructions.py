"""Instructions per REST request through the REST app, in this process: a figure that holds
on a busy machine (wall-clock figures do not).

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m bench.asgi_instructions N [PATH [WIDTH]]

runs N requests of W1 (the identity model, a 4-float body) through the REST app's ASGI
callable as a REST worker builds it (``workers/assembly.py``), no socket involved.  Run it
for two values of N (say 1,000 and 3,000): the difference of valgrind's "Collected"
totals divided by the difference of N is the app's instructions per request, start-up
left out.  PATH: ``/api/v1.0/predictions`` (default), ``/v2/models/IdentityModel/infer``
or ``/v1/models/IdentityModel:predict``.  ``MODELSERVE_BUILTIN_METRICS=0``: without the built-in
metrics.  WIDTH: a body of 1 x WIDTH floats instead of 1 x 4 (W3: 10000).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from modelserve.model import build_model
from modelserve.settings import Settings
from modelserve.workers.assembly import assemble, rest_app

MODELS = Path(__file__).resolve().parent / "models" / "seldon"
BODIES = {
    "/api/v1.0/predictions": b'{"data":{"ndarray":[[1.0,2.0,3.0,4.0]]}}',
    "/v2/models/IdentityModel/infer": b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}',
    "/v1/models/IdentityModel:predict": b'{"instances":[[1,2,3,4]]}',
}


def main() -> None:
    count = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else "/api/v1.0/predictions"
    sys.path.insert(0, str(MODELS))
    # MODELSERVE_BUILTIN_METRICS=0 in the environment: the same without the built-in metrics.
    environ = {k: v for k, v in os.environ.items() if k == "MODELSERVE_BUILTIN_METRICS"}
    settings = Settings.load("IdentityModel", environ=environ)
    app = rest_app(assemble(build_model(settings), settings, tempfile.mkdtemp(prefix="bench-"), 1), settings)
    body = BODIES[path]
    if len(sys.argv) > 3:
        width = int(sys.argv[3])
        row = ",".join(f"{i % 7 + 0.5}" for i in range(width)).encode()
        body = body.replace(b"1.0,2.0,3.0,4.0", row).replace(b"1,2,3,4", row).replace(b"[1,4]", b"[1,%d]" % width)
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "server": ("127.0.0.1", 9000),
    }
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict:
        return message

    async def send(_: dict) -> None:
        pass

    async def requests() -> None:
        for _ in range(count):
            await app(scope, receive, send)

    started = time.perf_counter()
    asyncio.run(requests())
    print(f"{(time.perf_counter() - started) / count * 1e6:.2f} us a request (wall clock, not to be trusted)")


if __name__ == "__main__":
    main()
