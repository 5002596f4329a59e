"""Each protocol's request for a workload, and the check of a server's answer.

A protocol is one row kind of the tables.  Adding a row for another modelserve protocol
means adding its name to the server's ``protocols`` in ``servers.py``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from bench import upi, v2_grpc
from bench.workloads import Workload

SELDON_GRPC_METHOD = "/seldon.protos.Model/Predict"


JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Protocol:
    name: str
    transport: str  # "http" or "grpc"
    path: Callable[[Workload], str]  # URL path (HTTP) or gRPC method
    build: Callable[[Workload], bytes]  # the request body or message (``request`` caches it)
    values: Callable[[bytes], list[float]]  # the flat answer decoded from a response body
    headers: Callable[[Workload], dict[str, str]] = lambda w: JSON_HEADERS  # HTTP request headers

    def request(self, workload: Workload) -> bytes:
        return _request(self, workload)

    def check(self, workload: Workload, body: bytes) -> str | None:
        """None if ``body`` is the workload's right answer, else what is wrong."""
        try:
            got = self.values(body)
        except Exception as exc:  # any undecodable answer is a wrong answer
            return f"undecodable answer ({exc!r}): {body[:200]!r}"
        want = workload.expected()
        close = all(math.isclose(g, w, abs_tol=workload.tolerance) for g, w in zip(got, want, strict=False))
        if len(got) != len(want) or not close:
            return f"wrong answer: {got[:6]}... (want {want[:6]}...)"
        return None


@cache
def _request(protocol: Protocol, workload: Workload) -> bytes:
    return protocol.build(workload)  # a million floats take a second to encode: once per run


def _flat(nested: Any) -> list[float]:
    if isinstance(nested, list):
        return [v for item in nested for v in _flat(item)]
    return [float(nested)]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# Seldon REST: {"data": {"ndarray": [[...]]}}
def seldon_rest_answer(workload: Workload) -> bytes:
    return _json({"data": {"names": [], "ndarray": [workload.expected()]}, "meta": {}})


def _seldon_rest_values(body: bytes) -> list[float]:
    data = json.loads(body)["data"]
    return _flat(data["ndarray"]) if "ndarray" in data else _flat(data["tensor"]["values"])


# Seldon gRPC: a SeldonMessage with a tensor (packed doubles), the natural gRPC encoding of floats.
def _seldon_message(values: list[float]) -> bytes:
    from modelserve.codecs import messages

    message = messages.SeldonMessage()
    message.data.tensor.shape.extend([1, len(values)])
    message.data.tensor.values.extend(values)
    return bytes(message.SerializeToString())


def seldon_grpc_answer(workload: Workload) -> bytes:
    return _seldon_message(workload.expected())


def _seldon_grpc_values(body: bytes) -> list[float]:
    from modelserve.codecs import messages

    data = messages.SeldonMessage.FromString(body).data
    if data.HasField("tensor"):
        return list(data.tensor.values)
    return _flat([[v.number_value for v in row.list_value.values] for row in data.ndarray.values])


# V2 (Open Inference) REST and gRPC: one FP64 tensor of shape [1, n].
def _v2_rest_request(workload: Workload) -> bytes:
    tensor = {"name": "input-0", "shape": [1, len(workload.row)], "datatype": "FP64", "data": list(workload.row)}
    return _json({"inputs": [tensor]})


def _v2_rest_values(body: bytes) -> list[float]:
    return _flat(json.loads(body)["outputs"][0]["data"])


# V2 REST with the binary tensor extension: a JSON header, then the tensor's bytes (little-endian FP64); the
# answer asked in binary too (``binary_data_output``).  Its length is in ``Inference-Header-Content-Length``.
def _v2_binary_header(workload: Workload) -> bytes:
    tensor = {"name": "input-0", "shape": [1, len(workload.row)], "datatype": "FP64",
              "parameters": {"binary_data_size": 8 * len(workload.row)}}
    return _json({"inputs": [tensor], "parameters": {"binary_data_output": True}})


def _v2_binary_request(workload: Workload) -> bytes:
    return _v2_binary_header(workload) + struct.pack(f"<{len(workload.row)}d", *workload.row)


def _v2_binary_headers(workload: Workload) -> dict[str, str]:
    return {"Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(_v2_binary_header(workload)))}


def _v2_binary_values(body: bytes) -> list[float]:
    """A JSON header then the binary outputs (the header's end found by parsing it), or plain V2 JSON."""
    header, end = json.JSONDecoder().raw_decode(body.decode("latin-1"))
    output = header["outputs"][0]
    size = (output.get("parameters") or {}).get("binary_data_size")
    if size is None:
        return _flat(output["data"])
    raw = body[end:end + size]
    if len(raw) != size or output["datatype"] != "FP64":
        raise ValueError(f"binary output of {len(raw)} bytes, {output['datatype']} (want {size}, FP64)")
    return list(struct.unpack(f"<{size // 8}d", raw))


def _v2_grpc_request(workload: Workload) -> bytes:
    request = v2_grpc.ModelInferRequest(model_name=workload.model)
    tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[1, len(workload.row)])
    tensor.contents.fp64_contents.extend(workload.row)
    return bytes(request.SerializeToString())


def _v2_grpc_raw_request(workload: Workload) -> bytes:
    """The tensor's bytes in ``raw_input_contents`` (little-endian FP64), as Triton's clients send them."""
    request = v2_grpc.ModelInferRequest(model_name=workload.model)
    request.inputs.add(name="input-0", datatype="FP64", shape=[1, len(workload.row)])
    request.raw_input_contents.append(struct.pack(f"<{len(workload.row)}d", *workload.row))
    return bytes(request.SerializeToString())


def _v2_grpc_values(body: bytes) -> list[float]:
    response = v2_grpc.ModelInferResponse.FromString(body)
    if response.raw_output_contents:
        raw = response.raw_output_contents[0]
        return list(struct.unpack(f"<{len(raw) // 8}d", raw))
    return list(response.outputs[0].contents.fp64_contents)


# KServe V1 REST: {"instances": [[...]]} -> {"predictions": [[...]]}
def _v1_rest_values(body: bytes) -> list[float]:
    return _flat(json.loads(body)["predictions"])


PROTOCOLS = {
    p.name: p
    for p in (
        Protocol(
            "seldon-rest",
            "http",
            lambda w: "/api/v1.0/predictions",
            lambda w: _json({"data": {"ndarray": [list(w.row)]}}),
            _seldon_rest_values,
        ),
        Protocol(
            "seldon-grpc",
            "grpc",
            lambda w: SELDON_GRPC_METHOD,
            lambda w: _seldon_message(list(w.row)),
            _seldon_grpc_values,
        ),
        Protocol("v2-rest", "http", lambda w: f"/v2/models/{w.model}/infer", _v2_rest_request, _v2_rest_values),
        Protocol("v2-rest-binary", "http", lambda w: f"/v2/models/{w.model}/infer", _v2_binary_request,
                 _v2_binary_values, _v2_binary_headers),
        Protocol("v2-grpc", "grpc", lambda w: v2_grpc.METHOD, _v2_grpc_request, _v2_grpc_values),
        Protocol("v2-grpc-raw", "grpc", lambda w: v2_grpc.METHOD, _v2_grpc_raw_request, _v2_grpc_values),
        Protocol(
            "v1-rest",
            "http",
            lambda w: f"/v1/models/{w.model}:predict",
            lambda w: _json({"instances": [list(w.row)]}),
            _v1_rest_values,
        ),
        # Merlin's HTTP_JSON: the raw JSON body goes to the model's infer() (the bench's MLflow models
        # answer the V1 envelope), on the path of the model's full name (the bench sets it to the model name).
        Protocol(
            "merlin-http",
            "http",
            lambda w: f"/v1/models/{w.model}:predict",
            lambda w: _json({"instances": [list(w.row)]}),
            _v1_rest_values,
        ),
        Protocol("merlin-upi", "grpc", lambda w: upi.METHOD, lambda w: upi.request(list(w.row)), upi.values),
    )
}
