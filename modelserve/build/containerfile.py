"""The bundle's ``Containerfile`` (for ``buildah build`` or ``docker build``) and what
its build context leaves out."""

from __future__ import annotations

import json

APP_DIR = "/app"
USER = 8888  # as the original's s2i images
PORTS = (9000, 5000, 6000)
IGNORED = ("venv/", "conda-env/", ".s2iignore", ".containerignore", ".dockerignore")


def default_base(python_version: str) -> str:
    return f"docker.io/library/python:{python_version}-slim"


def containerfile(model_name: str, service_type: str, python_version: str, modelserve_version: str) -> str:
    labels = {
        "io.modelserve.model-name": model_name,
        "io.modelserve.service-type": service_type,
        "io.modelserve.version": modelserve_version,
    }
    label_text = " \\\n      ".join(f"{key}={json.dumps(value)}" for key, value in labels.items())
    return f"""\
# The model server of {model_name} ({service_type}), written by modelserve build {modelserve_version}.
#   buildah build -t NAME .      or      docker build -t NAME .
# BASE needs Python {python_version} and its venv module; wheels/ holds every package the
# server needs, so the build needs no network.
ARG BASE={default_base(python_version)}
FROM ${{BASE}}
COPY . {APP_DIR}
RUN {APP_DIR}/install
USER {USER}
WORKDIR {APP_DIR}/src
EXPOSE {" ".join(str(port) for port in PORTS)}
LABEL {label_text}
CMD ["{APP_DIR}/run"]
"""


def ignore_file() -> str:
    return "".join(f"{pattern}\n" for pattern in IGNORED)
