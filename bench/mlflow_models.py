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
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([str(python), str(SOURCE / "save.py"), str(out)], check=True, capture_output=True)
        (out / ".complete").touch()
    return out / name
