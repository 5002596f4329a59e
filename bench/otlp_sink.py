"""An OTLP/HTTP endpoint that accepts and drops spans, for measuring tracing's cost.

    python -m bench.otlp_sink PORT      # POST /v1/traces on 127.0.0.1:PORT, answers 200

Stdlib only: the body is read and thrown away (an empty ExportTraceServiceResponse is an
empty protobuf message), so the sink costs the server under test as little as possible.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
