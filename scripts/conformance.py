"""Run the shared conformance suites against modelserve.

    python scripts/conformance.py seldon --transports rest,startup,grpc

Selects the cases of the given transports from the suite's cases.json and runs the
suite's own check.py on them with modelserve's command line; exits with its status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MODELSERVE_SHARED", REPO.parent / "shared"))
MODELSERVE = Path(sys.executable).with_name("modelserve")

START = {
    "seldon": "{modelserve} serve {{module}} --service-type {{service_type}} --http-port {{http_port}} "
    "--grpc-port {{grpc_port}} --metrics-port {{metrics_port}} --parameters '{{parameters}}'",
    "v2": "{modelserve} serve Identity --model-name identity --http-port {{http_port}} "
    "--grpc-port {{grpc_port}} --metrics-port {{metrics_port}}",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=sorted(START))
    parser.add_argument("--transports", default="", help="comma-separated transports (default: all)")
    parser.add_argument("--aux-timeout", default="10")
    args = parser.parse_args()
    suite = SHARED / "conformance" / args.suite
    if not (suite / "check.py").exists():
        print(f"conformance suite not found at {suite} (set MODELSERVE_SHARED)", file=sys.stderr)
        return 2
    command = [
        sys.executable,
        "check.py",
        "-q",
        "--aux-timeout",
        args.aux_timeout,
        "--start",
        START[args.suite].format(modelserve=MODELSERVE),
    ]
    if args.transports:
        wanted = set(args.transports.split(","))
        cases = json.loads((suite / "cases.json").read_text())
        for case in cases:
            if case.get("transport") in wanted:
                command += ["--case", case["id"]]
    return subprocess.call(command, cwd=suite)


if __name__ == "__main__":
    sys.exit(main())
