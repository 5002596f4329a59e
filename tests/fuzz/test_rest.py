"""schemathesis against a real server: every operation of its /openapi.json, called with
what the document allows and with what it does not (positive and negative cases).

No answer may be a 5xx (the model never raises: a 500 would be the server's), and every
answer conforms to the document: a status it lists, with its content type, headers and
body schema.

schemathesis runs as its command line (``st run``), a client process of its own; its
pytest plugin does not work with pytest 9.2.  The ``ci`` profile is a bounded,
deterministic run; ``long`` (``make fuzz``) every phase with many more cases.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import RunningServer
from tests.fuzz.conftest import PROFILE

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
OPTIONS = {
    "ci": ["--phases", "examples,fuzzing", "--max-examples", "12", "--generation-deterministic"],
    "long": ["--phases", "examples,coverage,fuzzing", "--max-examples", "300"],
}
TIMEOUT = {"ci": 300, "long": 3 * 3600}


def test_every_route_answers_as_its_document_says(tmp_path: Path) -> None:
    server = RunningServer("EveryMethodModel", "--model-name", "fuzzed", "--model-version", "3").wait_ready()
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                ",".join(CHECKS),
                *OPTIONS[PROFILE],
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--no-color",
                "--warnings",
                "off",
            ],
            cwd=tmp_path,  # its cache (.schemathesis/) stays out of the tree
            capture_output=True,
            text=True,
            timeout=TIMEOUT[PROFILE],
        )
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert run.returncode == 0, f"{run.stdout[-30000:]}\n{run.stderr[-3000:]}\nserver log:\n{log[-5000:]}"
