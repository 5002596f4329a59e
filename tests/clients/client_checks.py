"""Real client libraries against a running modelserve (IdentityModel served as "identity").

    python client_checks.py SUITE HTTP_PORT GRPC_PORT

Runs in the clients' own venv (``.venvs/clients``: tritonclient and kserve pin a protobuf
older than modelserve's), started by tests/clients/test_clients.py.  Each suite is a few
checks; the first failure raises (exit status 1 with its traceback).  Prints "ok N".
"""

from __future__ import annotations

import asyncio
import sys

import numpy as np

HOST = "127.0.0.1"
MODEL = "identity"

ARRAYS = {
    "BOOL": np.array([[True, False, True]]),
    "UINT8": np.array([[0, 1, 255]], np.uint8),
    "UINT16": np.array([[0, 1, 65535]], np.uint16),
    "UINT32": np.array([[0, 1, 2**32 - 1]], np.uint32),
    "UINT64": np.array([[0, 1, 2**64 - 1]], np.uint64),
    "INT8": np.array([[-128, 0, 127]], np.int8),
    "INT16": np.array([[-32768, 0, 32767]], np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1]], np.int64),
    "FP16": np.array([[0.5, -1.25, 3.0]], np.float16),
    "FP32": np.array([[0.5, -1.25, 3.0e10]], np.float32),
    "FP64": np.array([[0.1, -1.25, 1e300]], np.float64),
    "BYTES": np.array([[b"a", b"", "é".encode()]], dtype=object),
}


def same(got: np.ndarray, want: np.ndarray, datatype: str) -> None:
    if datatype == "BYTES":
        got = np.array([v if isinstance(v, bytes) else str(v).encode() for v in got.reshape(-1)], dtype=object)
        assert got.tolist() == want.reshape(-1).tolist(), (got, want)
        return
    assert got.dtype == want.dtype, (datatype, got.dtype, want.dtype)
    assert got.shape == want.shape, (datatype, got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- tritonclient


def triton(module, url: str, binary_modes: tuple[bool, ...]) -> int:
    from tritonclient.utils import InferenceServerException

    client = module.InferenceServerClient(url=url)
    checks = 0
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL)
    metadata = client.get_server_metadata()
    name = metadata["name"] if isinstance(metadata, dict) else metadata.name
    assert name == "modelserve", metadata
    model = client.get_model_metadata(MODEL)
    assert (model["name"] if isinstance(model, dict) else model.name) == MODEL
    checks += 1
    for datatype, array in ARRAYS.items():
        for binary in binary_modes:
            if datatype == "FP16" and not binary:
                continue  # FP16 exists only in binary form
            tensor = module.InferInput("x", list(array.shape), datatype)
            kwargs = {"binary_data": binary} if module.__name__.endswith("http") else {}
            tensor.set_data_from_numpy(array, **kwargs)
            outputs = [module.InferRequestedOutput("output-0", **kwargs)]
            result = client.infer(MODEL, [tensor], outputs=outputs, request_id="req-7")
            same(result.as_numpy("output-0"), array, datatype)
            response = result.get_response()
            assert (response["id"] if isinstance(response, dict) else response.id) == "req-7"
            checks += 1
    # several inputs: X is a dict, the answer one output per key; asking for one output
    a, b = ARRAYS["FP32"], ARRAYS["INT64"]
    inputs = [module.InferInput("a", list(a.shape), "FP32"), module.InferInput("b", list(b.shape), "INT64")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = client.infer(MODEL, inputs)
    same(result.as_numpy("a"), a, "FP32")
    same(result.as_numpy("b"), b, "INT64")
    result = client.infer(MODEL, inputs, outputs=[module.InferRequestedOutput("b")])
    assert result.as_numpy("a") is None
    same(result.as_numpy("b"), b, "INT64")
    checks += 1
    # errors: an unknown model, and a tensor whose data contradicts its shape
    try:
        client.infer("nope", inputs)
        raise AssertionError("an unknown model was answered")
    except InferenceServerException as error:
        assert "nope" in error.message() and ("404" in str(error.status()) or "NOT_FOUND" in str(error.status()))
    bad = module.InferInput("x", [1, 4], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 4), np.float32))
    bad._shape = [1, 5]  # the client checks shapes itself: lie about it after the data is set
    if hasattr(bad, "_input"):
        del bad._input.shape[:]
        bad._input.shape.extend([1, 5])
    try:
        client.infer(MODEL, [bad])
        raise AssertionError("a bad shape was answered")
    except InferenceServerException as error:
        assert "400" in str(error.status()) or "INVALID_ARGUMENT" in str(error.status()), error
    assert client.is_server_ready()  # the worker survived
    checks += 1
    return checks


def triton_http(http_port: int, grpc_port: int) -> int:
    import tritonclient.http as module

    return triton(module, f"{HOST}:{http_port}", (True, False))


def triton_grpc(http_port: int, grpc_port: int) -> int:
    import tritonclient.grpc as module

    return triton(module, f"{HOST}:{grpc_port}", (True,))


# ---------------------------------------------------------------- kserve


def kserve_inputs(array: np.ndarray, datatype: str, binary: bool):
    from kserve import InferInput

    tensor = InferInput("x", list(array.shape), datatype)
    if datatype == "BYTES" and not binary:
        tensor.set_data_from_numpy(array.astype(object), binary_data=False)
    else:
        tensor.set_data_from_numpy(array, binary_data=binary)
    return [tensor]


async def kserve_rest_v2(http_port: int, grpc_port: int) -> int:
    from kserve import InferenceRESTClient, InferRequest, RESTConfig

    base = f"http://{HOST}:{http_port}"
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    checks = 0
    try:
        assert await client.is_server_live(base) and await client.is_server_ready(base)
        assert await client.is_model_ready(base, MODEL)
        for datatype, array in ARRAYS.items():
            for binary in (False, True):
                if datatype in ("FP16",) and not binary:
                    continue
                if datatype == "BYTES" and not binary:
                    continue  # kserve's JSON BYTES are str; covered by tritonclient.http
                request = InferRequest(MODEL, kserve_inputs(array, datatype, binary), request_id="k-1")
                response = await client.infer(base, request, MODEL)
                assert response.id == "k-1"
                same(response.outputs[0].as_numpy(), array, datatype)
                checks += 1
        import httpx

        try:
            await client.infer(base, InferRequest("nope", kserve_inputs(ARRAYS["FP32"], "FP32", False)), "nope")
            raise AssertionError("an unknown model was answered")
        except httpx.HTTPStatusError as error:
            assert error.response.status_code == 404 and "nope" in error.response.json()["error"]
        checks += 1
    finally:
        await client.close()
    return checks


async def kserve_v1(http_port: int, grpc_port: int) -> int:
    from kserve import InferenceRESTClient, RESTConfig

    base = f"http://{HOST}:{http_port}"
    client = InferenceRESTClient(RESTConfig(protocol="v1"))
    try:
        assert await client.is_server_live(base)
        assert await client.is_model_ready(base, MODEL)
        answer = await client.infer(base, {"instances": [[1, 2], [3, 4]]}, MODEL)
        assert answer == {"predictions": [[1, 2], [3, 4]]}, answer
        answer = await client.infer(base, {"inputs": [[0.5, 1.5]]}, MODEL)
        assert answer == {"predictions": [[0.5, 1.5]]}, answer
        answer = await client.infer(base, {"instances": ["a", "b"]}, MODEL)
        assert answer == {"predictions": ["a", "b"]}, answer
    finally:
        await client.close()
    return 3


async def kserve_grpc(http_port: int, grpc_port: int) -> int:
    from kserve import InferenceGRPCClient, InferRequest

    client = InferenceGRPCClient(f"{HOST}:{grpc_port}")
    checks = 0
    try:
        assert await client.is_server_live() and await client.is_server_ready()
        assert await client.is_model_ready(MODEL)
        for datatype, array in ARRAYS.items():
            if datatype == "FP16":
                continue  # kserve's gRPC client sends typed contents, which FP16 has none of
            request = InferRequest(MODEL, kserve_inputs(array, datatype, False), request_id="g-1")
            response = await client.infer(request)
            assert response.id == "g-1"
            same(response.outputs[0].as_numpy(), array, datatype)
            checks += 1
    finally:
        await client.close()
    return checks


SUITES = {
    "triton-http": triton_http,
    "triton-grpc": triton_grpc,
    "kserve-rest-v2": kserve_rest_v2,
    "kserve-v1": kserve_v1,
    "kserve-grpc": kserve_grpc,
}


def main() -> None:
    suite, http_port, grpc_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    result = SUITES[suite](http_port, grpc_port)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    print(f"ok {result}")


if __name__ == "__main__":
    main()
