"""``inference.GRPCInferenceService``: the Open Inference Protocol (V2) over gRPC.

Registered by ``grpc/server.py`` next to the Seldon services, over the same data plane.
Errors carry the gRPC code of their status: INVALID_ARGUMENT for bad requests,
NOT_FOUND for an unknown model or version, UNAVAILABLE when the model is not ready.
"""

from __future__ import annotations

from typing import Any

import grpc

from modelserve.codecs import messages, v2_proto
from modelserve.handlers.v2 import V2Handlers

SERVICE = "inference.GRPCInferenceService"
_METHODS = messages.POOL.FindServiceByName(SERVICE).methods
_CLASSES = {
    m.name: (messages.message_class(m.input_type.full_name), messages.message_class(m.output_type.full_name))
    for m in _METHODS
}
_ServerLiveResponse = _CLASSES["ServerLive"][1]
_ServerReadyResponse = _CLASSES["ServerReady"][1]
_ModelReadyResponse = _CLASSES["ModelReady"][1]
_ServerMetadataResponse = _CLASSES["ServerMetadata"][1]
_ModelMetadataResponse = _CLASSES["ModelMetadata"][1]


_PROBES = frozenset({"ServerLive", "ServerReady", "ModelReady"})


class V2Servicer:
    def __init__(self, handlers: V2Handlers):
        self.handlers = handlers
        self._server_metadata = _ServerMetadataResponse(**handlers.server_metadata())
        self._model_metadata: Any = None

    def method_handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        from modelserve.grpc.server import unary_handler  # the shared parse/call/abort wrapper

        behaviours = {
            "ServerLive": self.server_live,
            "ServerReady": self.server_ready,
            "ModelReady": self.model_ready,
            "ServerMetadata": self.server_metadata,
            "ModelMetadata": self.model_metadata,
            "ModelInfer": self.model_infer,
        }
        metrics = self.handlers.plane.metrics

        def recorder(name: str) -> Any:
            if metrics is None or name in _PROBES:  # health checks are not user traffic
                return None
            return metrics.route("grpc", "v2", f"/{SERVICE}/{name}")

        return {
            name: unary_handler(f"{SERVICE}/{name}", behaviour, _CLASSES[name][0], recorder(name))
            for name, behaviour in behaviours.items()
        }

    async def server_live(self, request: Any) -> Any:
        return _ServerLiveResponse(live=self.handlers.live)

    async def server_ready(self, request: Any) -> Any:
        return _ServerReadyResponse(ready=self.handlers.ready)

    async def model_ready(self, request: Any) -> Any:
        self.handlers.check_model(request.name, request.version or None, say_version=True)
        return _ModelReadyResponse(ready=self.handlers.ready)

    async def server_metadata(self, request: Any) -> Any:
        return self._server_metadata

    async def model_metadata(self, request: Any) -> Any:
        self.handlers.check_model(request.name, request.version or None, say_version=True)
        if self._model_metadata is None:
            metadata = self.handlers.model_metadata()
            message = _ModelMetadataResponse(
                name=metadata["name"], versions=metadata["versions"], platform=metadata["platform"]
            )
            for key in ("inputs", "outputs"):
                for tensor in metadata[key]:
                    getattr(message, key).add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
            v2_proto.fill_parameters(message.parameters, metadata["parameters"])
            self._model_metadata = message
        return self._model_metadata

    async def model_infer(self, request: Any) -> Any:
        self.handlers.check_model(request.model_name, request.model_version or None, say_version=True)
        infer_request = v2_proto.decode_request(request)
        response = await self.handlers.infer(infer_request)
        return v2_proto.encode_response(response, raw=bool(request.raw_input_contents))
