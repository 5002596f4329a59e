"""Each peer in its own virtual environment under ``bench/.venvs/<peer>``, made on first use.

The venvs use Python 3.12 (seldon-core 1.19 needs it; the others get the same for a like-for-like
comparison).  A stamp file records what was installed, so a later run installs nothing.
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
}
STAMP = ".bench-installed"


def python312() -> str:
    """A Python 3.12 interpreter: on PATH, or one of pyenv's."""
    pyenv = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.12*/bin/python3.12")))
    candidates = [shutil.which("python3.12") or "", *pyenv]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True, check=False).returncode == 0:
            return candidate
    raise RuntimeError("the peers need Python 3.12 (python3.12 on PATH, or pyenv install 3.12)")


def ensure(peer: str) -> Path:
    """The ``bin`` directory of ``peer``'s venv, created and installed if need be."""
    venv, requirements = VENVS / peer, PEERS[peer]
    stamp = venv / STAMP
    if stamp.exists() and stamp.read_text().split() == requirements:
        return venv / "bin"
    print(f"[bench] installing {' '.join(requirements)} into {venv}", file=sys.stderr, flush=True)
    if not (venv / "bin" / "python").exists():
        subprocess.run([python312(), "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *requirements], check=True)
    stamp.write_text("\n".join(requirements) + "\n")
    return venv / "bin"
