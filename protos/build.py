"""Compile the .proto files under protos/ into the descriptor set modelserve loads.

    python protos/build.py [--check]

Writes ``modelserve/codecs/protos.desc``: a serialized ``FileDescriptorSet`` of
``seldon/protos/prediction.proto`` and ``inference/grpc_predict_v2.proto`` (Open Inference
Protocol V2) with every file they import (the TensorFlow tensor
files and the google/protobuf well-known types), without source info.  No Python code
is generated: the server builds its message classes from this set at run time, in a
descriptor pool of its own.  ``--check`` only tells whether the committed file is up
to date (exit status 1 when it is not).  Needs ``grpcio-tools``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path

PROTOS = Path(__file__).resolve().parent
OUTPUT = PROTOS.parent / "modelserve" / "codecs" / "protos.desc"
SOURCES = ("seldon/protos/prediction.proto", "inference/grpc_predict_v2.proto")


def compile_descriptor_set() -> bytes:
    from grpc_tools import protoc

    well_known = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "seldon.desc")
        args = ["protoc", f"-I{PROTOS}", f"-I{well_known}", "--include_imports", f"--descriptor_set_out={target}"]
        status = protoc.main([*args, *SOURCES])
        if status != 0:
            raise SystemExit(f"protoc failed with status {status}")
        return Path(target).read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the committed file is current")
    args = parser.parse_args()
    built = compile_descriptor_set()
    current = OUTPUT.read_bytes() if OUTPUT.exists() else b""
    if args.check:
        if built != current:
            print(f"{OUTPUT} is out of date: run python protos/build.py", file=sys.stderr)
            return 1
        return 0
    if built != current:
        OUTPUT.write_bytes(built)
        print(f"wrote {OUTPUT} ({len(built)} bytes)")
    else:
        print(f"{OUTPUT} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
