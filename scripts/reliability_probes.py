"""The probes of issue 14 ("tried as an attacker and an operator would"), re-run on real servers.

    .venv/bin/python scripts/reliability_probes.py [--quick]

Prints one Markdown row per probe: what was done and what was observed.  Each probe
starts its own server (tests/models), on free ports of 127.0.0.1; wrk must be installed
(`make bench` installs it).  --quick shortens the load probes (5 s instead of 15 s).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from modelserve.codecs import messages  # noqa: E402
from tests.conftest import RunningServer, wait_for  # noqa: E402
from tests.workers.counting_clients import GrpcClients, RestClients  # noqa: E402

WRK_POST = """wrk.method = "POST"
wrk.body = '{"strData":"x"}'
wrk.headers["Content-Type"] = "application/json"
"""


def row(probe: str, observed: str) -> None:
    print(f"| {probe} | {observed} |", flush=True)


def rss_kib(server: RunningServer) -> int:
    """Resident memory of the server's whole process tree, in KiB."""
    pids = [server.proc.pid, *_children(server.proc.pid)]
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def raw(port: int, data: bytes, timeout: float = 10.0) -> tuple[bytes, float]:
    """The answer to ``data`` (sent from another thread, so that an answer sent before the
    server read everything is seen) and the seconds it took to come."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sender = concurrent.futures.ThreadPoolExecutor(1)
        sender.submit(_send_all, sock, data)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or len(answer) < _answer_length(answer):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        took = time.monotonic() - started
        sender.shutdown(wait=False)
    return answer, took


def _send_all(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server answered and closed before reading everything


def _answer_length(answer: bytes) -> int:
    head, _, _ = answer.partition(b"\r\n\r\n")
    found = re.search(rb"content-length: (\d+)", head, re.I)
    return len(head) + 4 + int(found.group(1)) if found else 1 << 30


def status_of(answer: bytes) -> str:
    head = answer.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    kind = re.search(rb"content-type: ([^\r]+)", answer, re.I)
    return f"{head[9:12] or 'no answer'} {kind.group(1).decode() if kind else ''}".strip()


def probe_sigterm_under_load() -> None:
    server = RunningServer("IdentityModel", "--workers", "2", "--grpc-workers", "0").wait_ready()
    with RestClients(server.http_port, 32) as clients:
        wait_for(lambda: clients.tally.answered > 2000, timeout=30)
        os.kill(server.proc.pid, signal.SIGTERM)
        server.proc.wait(30)
        time.sleep(0.5)
    tally = clients.tally
    server.stop()
    row(
        "SIGTERM the supervisor while 32 keep-alive clients send requests back to back",
        f"{tally.sent} requests sent, {tally.answered} answered (all 200: {set(tally.statuses) == {200}}), "
        f"**{tally.lost} lost**; exit status {server.proc.returncode}",
    )


def probe_recycling(seconds: int) -> None:
    server = RunningServer(
        "IdentityModel", "--workers", "2", "--grpc-workers", "0", "--max-requests", "200",
        "--max-requests-jitter", "50",
    ).wait_ready()
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_POST)
        script.flush()
        out = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script.name, f"{server.url}/predict"],
            capture_output=True, text=True,
        ).stdout
    recycles = server.output().count("recycles: starting its replacement")
    server.stop()
    requests = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    row(
        f"`--max-requests 200 --max-requests-jitter 50` under 32-connection load for {seconds} s (wrk)",
        f"{requests.group(1) if requests else '?'} requests, {recycles} recycles, socket errors: "
        f"{errors.group(1) if errors else 'none'}, non-2xx: {non2xx.group(1) if non2xx else 0}",
    )


def probe_descriptors() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "0", max_files=1024).wait_ready()
    held = []
    for _ in range(1100):
        try:
            held.append(socket.create_connection(("127.0.0.1", server.metrics_port), timeout=2))
        except OSError:
            break
    time.sleep(1.0)
    alive = server.proc.poll() is None
    for sock in held:
        sock.close()
    scrape = wait_for(lambda: _ok(f"http://127.0.0.1:{server.metrics_port}/metrics"), timeout=10)
    left = list(Path("/dev/shm").glob(f"modelserve-metrics-{server.proc.pid}-*"))
    server.stop()
    row(
        "1,100 half-open connections to the metrics port with `ulimit -n 1024`",
        f"{len(held)} opened; server alive: {alive}; metrics scraped afterwards: {scrape}; "
        f"REST untouched; metrics directory left after stop: {bool(left and left[0].exists())}",
    )


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def probe_slow_predict() -> None:
    server = RunningServer("BusyModel", "--request-timeout", "5", "--worker-timeout", "15").wait_ready()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        busy = pool.submit(lambda: httpx.post(server.url + "/predict", json={"strData": "60"}, timeout=90))
        time.sleep(0.5)
        probe_started = time.monotonic()
        ping = httpx.get(server.url + "/health/ping", timeout=5).status_code
        status = httpx.get(server.url + "/health/status", timeout=5).status_code
        ready = httpx.get(server.url + "/v2/health/ready", timeout=5).status_code
        probes = time.monotonic() - probe_started
        answer = busy.result()
        answered = time.monotonic() - started
    replaced = wait_for(lambda: "is stuck" in server.output(), timeout=30)
    server.stop()
    row(
        "a `predict` that sleeps 60 s, default `--threads 1`, `--request-timeout 5`",
        f"probes meanwhile: ping {ping}, status {status}, V2 ready {ready}, all in {probes * 1000:.0f} ms; "
        f"the call answered {answer.status_code} after {answered:.1f} s; worker replaced after "
        f"`--worker-timeout` 15 s: {replaced}",
    )


def probe_multipart() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "0").wait_ready()
    part = b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n'
    body = part * 100_000 + b"--b--\r\n"
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(raw, server.http_port, head + body)
        time.sleep(0.05)
        ping_started = time.monotonic()
        httpx.get(server.url + "/health/ping", timeout=30)
        ping = time.monotonic() - ping_started
        answer, took = sent.result()
    server.stop()
    row(
        "multipart body with 100k fields",
        f"{status_of(answer)} in {took * 1000:.0f} ms; `/health/ping` meanwhile: {ping * 1000:.0f} ms",
    )


def probe_tftensor() -> None:
    server = RunningServer("IdentityModel").wait_ready()
    before = rss_kib(server)
    body = {"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "268435456"}]},
                                  "floatVal": [1.0]}}}
    answer = httpx.post(server.url + "/predict", json=body)
    message = messages.SeldonMessage()
    message.data.tftensor.dtype = 1
    message.data.tftensor.tensor_shape.dim.add(size=1 << 28)
    message.data.tftensor.float_val.append(1.0)
    code = _grpc_code(server, message)
    grown = rss_kib(server) - before
    server.stop()
    row(
        f"a {len(json.dumps(body))}-byte tftensor request with one value and `size: 268435456` "
        f"(and the {len(message.SerializeToString())}-byte gRPC one)",
        f"REST {answer.status_code} \"{answer.json()['status']['info']}\"; gRPC {code}; "
        f"memory of the server grew {grown // 1024} MiB",
    )


def _grpc_code(server: RunningServer, message: object) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        call = channel.unary_unary("/seldon.protos.Model/Predict", request_serializer=lambda m: m.SerializeToString())
        try:
            call(message, timeout=10)
        except grpc.RpcError as error:
            return error.code().name  # type: ignore[attr-defined, no-any-return]
    return "OK"


def probe_headers_and_stalls() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "0", "--read-timeout", "5").wait_ready()
    big = b"GET /health/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 << 20) + b"\r\n\r\n"
    answer, header_took = raw(server.http_port, big, timeout=30)
    stalled = []
    for _ in range(2200):
        try:
            sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=2)
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            stalled.append(sock)
        except OSError:
            break
    time.sleep(7)  # past the read timeout
    closed = 0
    for sock in stalled:
        sock.settimeout(0.5)
        try:
            data = sock.recv(4096)
            closed += data.startswith(b"HTTP/1.1 408") or not data
        except OSError:
            closed += 1
        sock.close()
    served = _ok(server.url + "/health/ping")
    server.stop()
    row(
        "a 64 MB request header; 2,200 stalled half-sent requests",
        f"header: {status_of(answer)} after {header_took * 1000:.0f} ms; stalled: {len(stalled)} opened, "
        f"{closed} answered 408 and closed after the 5 s read timeout; serving afterwards: {served}",
    )


def probe_v2_shapes() -> None:
    server = RunningServer("IdentityModel").wait_ready()
    found = []
    for shape in ([0, 2**62, 2**62], [1] * 65):
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": []}]}
        answer = httpx.post(server.url + "/v2/models/IdentityModel/infer", json=body)
        found.append(str(answer.status_code))
        from modelserve.codecs import v2_proto

        request = v2_proto.ModelInferRequest(model_name="IdentityModel")
        request.inputs.add(name="x", datatype="FP32", shape=shape)
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            call = channel.unary_unary(
                "/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda m: m.SerializeToString()
            )
            try:
                call(request, timeout=10)
                found.append("OK")
            except grpc.RpcError as error:
                found.append(error.code().name)  # type: ignore[attr-defined]
    server.stop()
    row("V2 shapes like `[0, 2^62, 2^62]` or 65 dimensions (REST, gRPC)", ", ".join(found))


def probe_big_list() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "0").wait_ready()
    body = json.dumps([1.5] * 2_000_000).encode()
    answer = httpx.post(server.url + "/predict", content=body, headers={"content-type": "application/json"})
    log_line = max((line for line in server.output().splitlines() if "answered 400" in line), key=len, default="")
    server.stop()
    row(
        f"a {len(body) / 1e6:.0f} MB body that is a JSON list",
        f"{answer.status_code}; answer {len(answer.content)} bytes, its log line {len(log_line)} characters",
    )


def probe_base64_and_shapes() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "0").wait_ready()
    bad_base64 = httpx.post(server.url + "/predict", json={"binData": "!!!"}).status_code
    negative = httpx.post(server.url + "/predict", json={"data": {"tensor": {"shape": [-5], "values": [1] * 5}}})
    server.stop()
    row("`binData: \"!!!\"`, Seldon tensor shape `[-5]`", f"{bad_base64}, {negative.status_code}")


def probe_grpc_shutdown() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "2").wait_ready()
    with GrpcClients(server.grpc_port, 32) as clients:
        wait_for(lambda: clients.codes["OK"] > 500, timeout=30)
        os.kill(server.proc.pid, signal.SIGTERM)
        server.proc.wait(30)
    server.stop()
    row(
        "gRPC calls made during shutdown (32 callers, retrying UNAVAILABLE)",
        ", ".join(f"{code} {count}" for code, count in sorted(clients.codes.items())),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="run only the probes whose name contains this")
    args = parser.parse_args()
    probes = [
        probe_sigterm_under_load,
        lambda: probe_recycling(5 if args.quick else 15),
        probe_descriptors,
        probe_slow_predict,
        probe_multipart,
        probe_tftensor,
        probe_headers_and_stalls,
        probe_v2_shapes,
        probe_big_list,
        probe_base64_and_shapes,
        probe_grpc_shutdown,
    ]
    print("| probe | observed |\n|---|---|")
    for probe in probes:
        if args.only is None or args.only in getattr(probe, "__name__", "probe_recycling"):
            probe()


if __name__ == "__main__":
    main()
