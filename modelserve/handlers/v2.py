"""The Open Inference Protocol (V2) and KServe V1 operations, the same for every transport.

The model is served under one name (``--model-name``, default the class name) and at
most one version (``--model-version``).  An inference calls the user's ``predict``
through the data plane:

- one input tensor: ``X`` is its array (BYTES: an object array of ``bytes``); several:
  ``X`` is a dict of name -> array; ``names`` are the input names; ``meta`` holds the
  request's ``id`` and ``parameters``;
- an array (or list, or scalar) answer is one output, named from ``class_names`` when
  it is a single name, else ``output-0``; a dict answer is one output per key;
- an output named like an input, or the lone output of a lone input, keeps the input's
  ``content_type`` parameter; the request's ``id`` and ``parameters`` are echoed (REST
  answers a request without ``id`` with a new one, as MLServer does; gRPC leaves it empty).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import modelserve
from modelserve.codecs import kserve_v1
from modelserve.codecs.v2 import BINARY_DATA_OUTPUT, InferRequest, InferResponse, Tensor, as_tensor
from modelserve.dataplane import DataPlane
from modelserve.errors import NOT_FOUND, NOT_READY, BadRequest, ServingError
from modelserve.model.component import PREDICT
from modelserve.model.metadata import V2_DATATYPES

SERVER_NAME = "modelserve"
EXTENSIONS = ["binary_tensor_data"]
DEFAULT_OUTPUT = "output-0"
CONTENT_TYPE = "content_type"
_NOT_ECHOED = frozenset((BINARY_DATA_OUTPUT,))


class ModelNotFound(ServingError):
    status_code = 404
    reason = NOT_FOUND


class NotReady(ServingError):
    status_code = 503
    reason = NOT_READY


class V2Handlers:
    def __init__(self, plane: DataPlane, model_name: str | None, model_version: str | None):
        self.plane = plane
        self.name = model_name or plane.component.name
        self.version = model_version or None
        self.output_name = _single_class_name(plane.component.user) or DEFAULT_OUTPUT
        self._metadata: dict[str, Any] | None = None

    # -- health and metadata

    @property
    def live(self) -> bool:
        return True

    @property
    def ready(self) -> bool:
        return self.plane.healthy

    def check_model(self, name: str, version: str | None, say_version: bool = False) -> None:
        """A ModelNotFound unless ``name`` (and ``version``, when given) is the served model."""
        if name != self.name or (version and version != self.version):
            if version or say_version:
                raise ModelNotFound(f"Model {name} with version {version or ''} not found")
            raise ModelNotFound(f"Model {name} not found")

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": modelserve.__version__, "extensions": EXTENSIONS}

    def model_metadata(self) -> dict[str, Any]:
        """V2 model metadata: the class's ``init_metadata`` inputs/outputs of V2 form, ``custom`` as parameters."""
        if self._metadata is None:
            source = self.plane.model_metadata()
            self._metadata = {
                "name": self.name,
                "versions": [self.version] if self.version else [],
                "platform": source.get("platform", ""),
                "inputs": _v2_tensors(source.get("inputs", [])),
                "outputs": _v2_tensors(source.get("outputs", [])),
                "parameters": dict(source.get("custom", {})),
            }
        return self._metadata

    # -- inference

    async def infer(self, request: InferRequest) -> InferResponse:
        if not self.plane.ready:
            raise NotReady("Model is not ready")
        inputs = request.inputs
        names = [t.name for t in inputs]
        if len(names) > 1 and len(set(names)) != len(names):
            raise BadRequest("input names must be unique")
        X: Any = inputs[0].data if len(inputs) == 1 else {t.name: t.data for t in inputs}
        meta = {"id": request.id, "parameters": request.parameters}
        outcome = await self.plane.infer(PREDICT, X, names, meta)
        outputs = self.outputs(outcome.data, inputs)
        if request.outputs is not None:
            by_name = {t.name: t for t in outputs}
            outputs = [by_name[o.name] for o in request.outputs if o.name in by_name]
        parameters = {k: v for k, v in request.parameters.items() if k not in _NOT_ECHOED}
        return InferResponse(self.name, outputs, self.version, request.id, parameters)

    def outputs(self, answer: Any, inputs: list[Tensor]) -> list[Tensor]:
        if isinstance(answer, dict):
            by_name = {t.name: t for t in inputs}
            outputs = []
            for key, value in answer.items():
                source = by_name.get(str(key))
                outputs.append(_output(str(key), value, source))
            return outputs
        return [_output(self.output_name, answer, inputs[0] if len(inputs) == 1 else None)]


def _output(name: str, value: Any, source: Tensor | None) -> Tensor:
    parameters = None
    if source is not None and CONTENT_TYPE in source.parameters:
        parameters = {CONTENT_TYPE: source.parameters[CONTENT_TYPE]}
    try:
        return as_tensor(name, value, parameters)
    except BadRequest as error:
        raise ServingError(f"predict returned what is not a V2 tensor for output {name!r}: {error.message}") from None
    except (ValueError, TypeError) as error:
        raise ServingError(f"predict returned what is not a V2 tensor for output {name!r}: {error}") from None


def _single_class_name(user: Any) -> str | None:
    names = getattr(user, "class_names", None)
    try:
        if callable(names):
            names = names()
    except Exception:
        return None
    if isinstance(names, str):
        return names
    if isinstance(names, (list, tuple)) and len(names) == 1 and isinstance(names[0], str):
        return names[0]
    return None


def _v2_tensors(tensors: list[Any]) -> list[dict[str, Any]]:
    """Metadata tensors of V2 form (name, datatype, shape); Seldon ``messagetype`` ones are left out."""
    out = []
    for tensor in tensors:
        if isinstance(tensor, dict) and tensor.get("datatype") in V2_DATATYPES and "name" in tensor:
            out.append({"name": tensor["name"], "datatype": tensor["datatype"], "shape": list(tensor["shape"])})
    return out


# ---------------------------------------------------------------- KServe V1


class V1Handlers:
    """KServe V1: ``{"instances": [...]}`` or ``{"inputs": ...}`` in, ``{"predictions": ...}`` out."""

    def __init__(self, plane: DataPlane, v2: V2Handlers):
        self.plane = plane
        self.v2 = v2
        self.has_explain = plane.has_explain()

    def models(self) -> dict[str, Any]:
        return {"models": [self.v2.name]}

    def model(self, name: str) -> dict[str, Any]:
        self.v2.check_model(name, None)
        return {"name": name, "ready": self.v2.ready}

    async def predict(self, name: str, message: Any) -> dict[str, Any]:
        self.v2.check_model(name, None)
        X, names = kserve_v1.decode(message)
        outcome = await self.plane.infer(PREDICT, X, names, None)
        return kserve_v1.predictions(outcome.data)

    async def explain(self, name: str, message: Any) -> Any:
        self.v2.check_model(name, None)
        X, names = kserve_v1.decode(message)
        return kserve_v1.explanation(await self.plane.explain(X, names))


# Request ids for requests that come without one: a random prefix per process and a
# counter, in the form of a UUID (uuid4() per request costs more than the rest of a small call).
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"
