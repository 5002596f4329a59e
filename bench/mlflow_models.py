"""The bench's MLflow pyfunc models (bench/models/mlflow), saved with merlin-pyfunc-server's own MLflow.

Saved once per version of their source into ``bench/.venvs/merlin/saved-models/<digest>/<name>``;
merlin-pyfunc-server and ``modelserve serve --model-dir`` serve the same directories.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from bench import venvs

SOURCE = Path(__file__).resolve().parent / "models" / "mlflow"
NAMES = ("identity", "iris", "big")  # the workloads' model names (W1, W3: identity; W2: iris); big: start-up


def directory() -> Path:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(SOURCE.glob("*.py")))).hexdigest()[:12]
    return venvs.VENVS / "merlin" / "saved-models" / digest


def saved(name: str) -> Path:
    """The saved model directory of ``name`` (saving them all on first use)."""
    if name not in NAMES:
        raise ValueError(f"no MLflow bench model {name!r} (have {', '.join(NAMES)})")
    out = directory()
    if not (out / ".complete").exists():
        python = venvs.ensure("merlin") / "python"
        check_upi_messages(python)
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([str(python), str(SOURCE / "save.py"), str(out)], check=True, capture_output=True)
        (out / ".complete").touch()
    return out / name


_READ_WITH_CARAML = """
import sys
from caraml.upi.v1 import upi_pb2
request = upi_pb2.PredictValuesRequest.FromString(sys.stdin.buffer.read())
table = request.prediction_table
print(repr((table.name, [(c.name, c.type) for c in table.columns],
            [(r.row_id, [v.double_value for v in r.values]) for r in table.rows],
            request.target_name, request.metadata.prediction_id)))
"""


def check_upi_messages(python: Path) -> None:
    """The bench's hand-written UPI request (bench/upi.py) read by caraml-upi-protos in Merlin's venv: same fields."""
    from bench import upi

    values = [1.5, -2.0, 3.25]
    done = subprocess.run([str(python), "-c", _READ_WITH_CARAML], input=upi.request(values), capture_output=True,
                          check=True)
    want = ("features", [(f"f{i}", upi.TYPE_DOUBLE) for i in range(3)], [("0", values)], "prediction", "bench")
    if done.stdout.decode().strip() != repr(want):
        raise RuntimeError(f"caraml-upi-protos reads the bench's UPI request as {done.stdout!r}, want {want!r}")
