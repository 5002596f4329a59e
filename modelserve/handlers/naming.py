"""The served model's name and version, as the V2 and KServe V1 paths and messages name it."""

from __future__ import annotations

from modelserve.dataplane import DataPlane
from modelserve.errors import NOT_FOUND, ServingError
from modelserve.settings import Settings


class ModelNotFound(ServingError):
    status_code = 404
    reason = NOT_FOUND


def served_name(plane: DataPlane, settings: Settings) -> str:
    """The model's name in V2 and V1 paths: ``--model-name``, else the class name."""
    return settings.model_name or plane.component.name


def check_model(name: str, version: str | None, served: str, served_version: str | None, say_version: bool) -> None:
    """A ModelNotFound unless ``name`` (and ``version``, when given) is the served model."""
    if name != served or (version and version != served_version):
        if version or say_version:
            raise ModelNotFound(f"Model {name} with version {version or ''} not found")
        raise ModelNotFound(f"Model {name} not found")
