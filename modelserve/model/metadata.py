"""Model metadata: the class's ``init_metadata()`` merged with ``MODEL_METADATA``, validated.

Metadata is built once at load.  When it is invalid the server still serves
predictions; asking for the metadata then answers an error that says what is wrong.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from modelserve.datatypes import V2_DATATYPES
from modelserve.errors import BAD_METADATA, ServingError, from_user_exception

logger = logging.getLogger(__name__)

V1_MESSAGE_TYPES = ("tensor", "ndarray", "tftensor", "jsonData", "strData", "binData")


class InvalidMetadata(ValueError):
    pass


def default_metadata(image: str | None) -> dict[str, Any]:
    """Name and version from ``PREDICTIVE_UNIT_IMAGE`` (``image:tag``) when it is set."""
    name, version = "", ""
    if image:
        name, _, version = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    return {"name": name, "versions": [version], "platform": "", "inputs": [], "outputs": [], "custom": {}}


def parse_env_metadata(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        try:
            import yaml  # optional: MODEL_METADATA may be YAML as in the original
        except ImportError:
            raise InvalidMetadata("MODEL_METADATA is not valid JSON (install PyYAML for YAML)") from None
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidMetadata(f"MODEL_METADATA is neither JSON nor YAML: {error}") from None
    if not isinstance(value, dict):
        raise InvalidMetadata("MODEL_METADATA must be an object")
    return value


def validate(metadata: dict[str, Any]) -> None:
    """The wrapper's metadata schema; raise InvalidMetadata naming the bad field."""
    for key in ("name", "platform"):
        if key in metadata and not isinstance(metadata[key], str):
            raise InvalidMetadata(f"{key} must be a string")
    versions = metadata.get("versions", [])
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise InvalidMetadata("versions must be a list of strings")
    custom = metadata.get("custom", {})
    if not isinstance(custom, dict) or not all(isinstance(v, str) for v in custom.values()):
        raise InvalidMetadata("custom must be an object of strings")
    for key in ("inputs", "outputs"):
        tensors = metadata.get(key, [])
        if not isinstance(tensors, list):
            raise InvalidMetadata(f"{key} must be a list")
        for index, tensor in enumerate(tensors):
            _validate_tensor(f"{key}[{index}]", tensor)


def _validate_tensor(where: str, tensor: Any) -> None:
    if not isinstance(tensor, dict):
        raise InvalidMetadata(f"{where} must be an object")
    if "messagetype" in tensor:
        if not isinstance(tensor["messagetype"], str):
            raise InvalidMetadata(f"{where}.messagetype must be a string")
        if "schema" in tensor and not isinstance(tensor["schema"], dict):
            raise InvalidMetadata(f"{where}.schema must be an object")
        return
    missing = [k for k in ("name", "datatype", "shape") if k not in tensor]
    if missing:
        raise InvalidMetadata(f"{where} needs messagetype, or name, datatype and shape (missing {', '.join(missing)})")
    if not isinstance(tensor["name"], str):
        raise InvalidMetadata(f"{where}.name must be a string")
    if tensor["datatype"] not in V2_DATATYPES:
        raise InvalidMetadata(f"{where}.datatype must be one of {', '.join(V2_DATATYPES)}")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InvalidMetadata(f"{where}.shape must be a list of integers")


class ModelMetadata:
    """The metadata of the served model, or the reason it is invalid."""

    def __init__(self, value: dict[str, Any] | None, error: str | None = None):
        self.value = value
        self.error = error

    @classmethod
    def build(cls, user: Any, image: str | None, env_text: str | None) -> ModelMetadata:
        metadata = default_metadata(image)
        init = getattr(user, "init_metadata", None)
        try:
            if callable(init):
                from_user = init()
                if from_user is not None:
                    if not isinstance(from_user, dict):
                        raise InvalidMetadata("init_metadata() must return a dict")
                    metadata.update(from_user)
            metadata.update(parse_env_metadata(env_text))
            validate(metadata)
        except InvalidMetadata as error:
            logger.error("model metadata is invalid: %s", error)
            return cls(None, str(error))
        except Exception as error:
            failure = from_user_exception(error)
            logger.error("init_metadata() failed: %s", failure.message)
            return cls(None, f"init_metadata() failed: {failure.message}")
        return cls(metadata)

    def get(self) -> dict[str, Any]:
        if self.value is None:
            raise ServingError(f"Model metadata is invalid: {self.error}", 500, BAD_METADATA)
        return self.value
