"""Each peer in its own virtual environment under ``bench/.venvs/<peer>``, made on first use.

The venvs use Python 3.12 (seldon-core 1.19 needs it; the others get the same for a like-for-like
comparison), except Merlin's: merlin-pyfunc-server 0.50.0 requires Python < 3.11, so 3.10.
``plot`` is the bench's own venv for matplotlib (the payload-size curve), kept out of modelserve's.
A stamp file records what was installed, so a later run installs nothing.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"
PEERS: dict[str, list[str]] = {
    "seldon-core": ["seldon-core==1.19.0", "scikit-learn"],
    # mlserver 1.7.1's inference-pool workers fail on uvloop 0.22+ ("There is no current event loop").
    "mlserver": ["mlserver==1.7.1", "uvloop<0.22", "scikit-learn"],
    "kserve": ["kserve==0.21.0", "scikit-learn"],
    # Its UPI mode crashes at start with uvloop 0.20+ (no current event loop), and its MLflow 1.26.1 wants
    # numpy 1.x; installed in one go so the resolver keeps merlin-sdk's cloudpickle==2.0.0.
    "merlin": ["merlin-pyfunc-server==0.50.0", "uvloop<0.20", "numpy<2", "scikit-learn"],
    "plot": ["matplotlib"],
}
PYTHONS = {"merlin": "3.10"}  # the others: 3.12
STAMP = ".bench-installed"


def python(version: str = "3.12") -> str:
    """A Python ``version`` interpreter ("3.12"): on PATH, or one of pyenv's."""
    pyenv = sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}.*/bin/python{version}")))
    candidates = [shutil.which(f"python{version}") or "", *pyenv]
    want = tuple(int(part) for part in version.split("."))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", f"import sys; assert sys.version_info[:2] == {want}"],
                                        capture_output=True, check=False).returncode == 0:
            return candidate
    raise RuntimeError(f"this peer needs Python {version} (python{version} on PATH, or pyenv install {version})")


def ensure(peer: str) -> Path:
    """The ``bin`` directory of ``peer``'s venv, created and installed if need be."""
    venv, requirements = VENVS / peer, PEERS[peer]
    stamp = venv / STAMP
    if stamp.exists() and stamp.read_text().split() == requirements:
        return venv / "bin"
    print(f"[bench] installing {' '.join(requirements)} into {venv}", file=sys.stderr, flush=True)
    if not (venv / "bin" / "python").exists():
        subprocess.run([python(PYTHONS.get(peer, "3.12")), "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *requirements], check=True)
    stamp.write_text("\n".join(requirements) + "\n")
    return venv / "bin"
