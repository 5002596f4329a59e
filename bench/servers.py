"""The servers under test (modelserve, its peers, the ceilings) and how each is started and checked."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import mlflow_models, protocols, venvs
from bench.protocols import PROTOCOLS
from bench.workloads import Workload

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "bench" / "models"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Launch:
    """What a server's command line is made from."""

    workload: Workload
    workers: int
    bin: Path  # the venv's bin directory
    scratch: Path
    http: int = field(default_factory=free_port)
    grpc: int = field(default_factory=free_port)
    metrics: int = field(default_factory=free_port)

    def port(self, protocol: str) -> int:
        return self.grpc if PROTOCOLS[protocol].transport == "grpc" else self.http


Command = tuple[list[str], Path, dict[str, str]]  # argv, cwd, extra environment


@dataclass(frozen=True)
class Server:
    name: str
    protocols: tuple[str, ...]
    command: Callable[[Launch], Command]
    venv: str | None = None  # a peer's venv (venvs.PEERS); None: modelserve's own
    ceiling: bool = False
    ours: bool = False  # modelserve's own figures (the other rows are compared with these)
    variant: bool = False  # modelserve with one setting changed: neither its figures nor a peer
    multi_worker: bool = True  # has a row in the 2-worker table
    models: Path = MODELS / "seldon"  # for modelserve: where its model classes are

    @property
    def peer(self) -> bool:
        return not (self.ours or self.variant or self.ceiling)

    def bin(self) -> Path:
        return venvs.ensure(self.venv) if self.venv else Path(sys.executable).parent


def _modelserve(server_models: Path, *extra: str) -> Callable[[Launch], Command]:
    def command(x: Launch) -> Command:
        return ([str(x.bin / "python"), "-m", "modelserve", "serve", x.workload.seldon_class, "--host", HOST,
                 "--http-port", str(x.http), "--grpc-port", str(x.grpc), "--metrics-port", str(x.metrics),
                 "--workers", str(x.workers), "--grpc-workers", str(x.workers), "--log-level", "WARNING",
                 "--model-name", x.workload.model, *extra],
                server_models, {})
    return command


def _seldon_core(x: Launch) -> Command:
    return ([str(x.bin / "seldon-core-microservice"), x.workload.seldon_class, "--http-port", str(x.http),
             "--grpc-port", str(x.grpc), "--metrics-port", str(x.metrics), "--workers", str(x.workers),
             "--grpc-workers", str(x.workers), "--log-level", "WARNING"], MODELS / "seldon", {})


def mlserver_command(parallel_workers: int | None) -> Callable[[Launch], Command]:
    def command(x: Launch) -> Command:
        env = {"MLSERVER_HOST": HOST, "MLSERVER_HTTP_PORT": str(x.http), "MLSERVER_GRPC_PORT": str(x.grpc),
               "MLSERVER_METRICS_PORT": str(x.metrics), "MLSERVER_LOGGING_LEVEL": "WARNING",
               "PYTHONPATH": str(MODELS / "mlserver")}
        if x.workers > 1:
            env["MLSERVER_PARALLEL_WORKERS"] = str(x.workers)
        elif parallel_workers is not None:
            env["MLSERVER_PARALLEL_WORKERS"] = str(parallel_workers)
        return [str(x.bin / "mlserver"), "start", x.workload.model], MODELS / "mlserver", env
    return command


def kserve_command(x: Launch) -> Command:
    return ([str(x.bin / "python"), "server.py", "--model_name", x.workload.model, "--http_port", str(x.http),
             "--grpc_port", str(x.grpc), "--workers", str(x.workers)], MODELS / "kserve", {})


def caraml_env(x: Launch, protocol: str) -> dict[str, str]:
    """Merlin's variables (spec 003), the same for merlin-pyfunc-server and ``modelserve serve --model-dir``:
    the model's full name (the route key) is the workload's model name."""
    prometheus = x.scratch / "prometheus-multiproc"
    prometheus.mkdir(exist_ok=True)
    return {"CARAML_PROTOCOL": protocol, "CARAML_HTTP_PORT": str(x.http), "CARAML_GRPC_PORT": str(x.grpc),
            "CARAML_MODEL_NAME": x.workload.model, "CARAML_MODEL_VERSION": "1",
            "CARAML_MODEL_FULL_NAME": x.workload.model, "WORKERS": str(x.workers), "LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus)}


def _merlin(protocol: str) -> Callable[[Launch], Command]:
    def command(x: Launch) -> Command:
        model = mlflow_models.saved(x.workload.model)
        return [str(x.bin / "merlin-pyfunc-server"), "--model_dir", str(model)], x.scratch, caraml_env(x, protocol)
    return command


def _modelserve_mlflow(protocol: str) -> Callable[[Launch], Command]:
    """``modelserve serve --model-dir`` (issue 12) with Merlin's variables; modelserve's own port variables
    point at the same free ports, so no default port of either convention is taken."""
    def command(x: Launch) -> Command:
        model = mlflow_models.saved(x.workload.model)
        env = {**caraml_env(x, protocol), "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(x.http),
               "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(x.grpc),
               "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(x.metrics)}
        return [str(x.bin / "python"), "-m", "modelserve", "serve", "--model-dir", str(model)], x.scratch, env
    return command


def _bare_asgi(x: Launch) -> Command:
    answer = x.scratch / "rest-answer.json"
    answer.write_bytes(protocols.seldon_rest_answer(x.workload))
    return ([str(x.bin / "python"), "-m", "uvicorn", "bench.ceilings:app", "--host", HOST, "--port", str(x.http),
             "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
             "--workers", str(x.workers)], REPO, {"BENCH_ANSWER": str(answer)})


def _bare_grpc(*loop: str) -> Callable[[Launch], Command]:
    def command(x: Launch) -> Command:
        answer = x.scratch / "grpc-answer.bin"
        answer.write_bytes(protocols.seldon_grpc_answer(x.workload))
        return ([str(x.bin / "python"), "-m", "bench.ceilings", str(x.grpc), str(x.workers), *loop], REPO,
                {"BENCH_ANSWER": str(answer)})
    return command


MODELSERVE_PROTOCOLS = ("seldon-rest", "seldon-grpc", "v2-rest", "v2-grpc", "v1-rest")
# Issue 15's binary target: V2 with the binary extension (REST) and raw contents (gRPC).
BINARY_PROTOCOLS = ("v2-rest-binary", "v2-grpc-raw")
MODELSERVE = Server("modelserve", (*MODELSERVE_PROTOCOLS, *BINARY_PROTOCOLS), _modelserve(MODELS / "seldon"),
                    ours=True)
MERLIN = "merlin-pyfunc-server 0.50.0"
SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        MODELSERVE,
        # The same MLflow models as Merlin's rows, one protocol per process as in Merlin.
        Server("modelserve --model-dir (HTTP_JSON)", ("merlin-http",), _modelserve_mlflow("HTTP_JSON"), ours=True),
        Server("modelserve --model-dir (UPI_V1)", ("merlin-upi",), _modelserve_mlflow("UPI_V1"), ours=True),
        # What the built-in metrics cost per request (the budget: under 3 % of throughput).
        Server("modelserve without built-in metrics", MODELSERVE_PROTOCOLS,
               _modelserve(MODELS / "seldon", "--builtin-metrics", "0"), variant=True, multi_worker=False),
        # User code on the event loop instead of the user threads (issue 14's default): the hop's cost.
        Server("modelserve --user-calls-on-loop", MODELSERVE_PROTOCOLS,
               _modelserve(MODELS / "seldon", "--user-calls-on-loop"), variant=True, multi_worker=False),
        # gRPC on grpc.aio (the event loop, user code on user threads) instead of the threaded server.
        Server("modelserve --grpc-server aio", ("seldon-grpc", "v2-grpc"),
               _modelserve(MODELS / "seldon", "--grpc-server", "aio"), variant=True, multi_worker=False),
        Server("modelserve 2 gRPC workers on the one core", ("seldon-grpc", "v2-grpc"),
               _modelserve(MODELS / "seldon", "--grpc-workers", "2"), variant=True, multi_worker=False),
        Server("seldon-core 1.19.0", ("seldon-rest", "seldon-grpc"), _seldon_core, venv="seldon-core"),
        Server("mlserver 1.7.1 (parallel_workers 0)", ("v2-rest", "v2-grpc"), mlserver_command(0), venv="mlserver",
               multi_worker=False),
        Server("mlserver 1.7.1", ("v2-rest", "v2-grpc"), mlserver_command(None), venv="mlserver"),
        Server("kserve 0.21.0", ("v1-rest", "v2-rest", "v2-grpc"), kserve_command, venv="kserve"),
        Server(f"{MERLIN} (HTTP_JSON)", ("merlin-http",), _merlin("HTTP_JSON"), venv="merlin"),
        Server(f"{MERLIN} (UPI_V1)", ("merlin-upi",), _merlin("UPI_V1"), venv="merlin"),
        Server("ceiling: bare ASGI on uvicorn", ("seldon-rest",), _bare_asgi, ceiling=True),
        Server("ceiling: bare grpc.aio", ("seldon-grpc",), _bare_grpc(), ceiling=True),
        Server("ceiling: bare grpc.aio on uvloop", ("seldon-grpc",), _bare_grpc("uvloop"), ceiling=True),
        Server("ceiling: bare grpcio threads", ("seldon-grpc",), _bare_grpc("threads"), ceiling=True),
    )
}


def select(names: str | None) -> list[Server]:
    """The servers named (comma-separated; a name that is not exact selects every server it begins), or all."""
    if not names:
        return list(SERVERS.values())
    chosen: list[Server] = []
    for name in names.split(","):
        found = [SERVERS[name]] if name in SERVERS else [s for n, s in SERVERS.items() if n.startswith(name)]
        if not found:
            raise SystemExit(f"no server {name!r}; the servers: {', '.join(SERVERS)}")
        chosen += [s for s in found if s not in chosen]
    return chosen


def modelserve_with(models: Path) -> Server:
    """modelserve serving the model classes of another directory (the tests' wrong models)."""
    return Server("modelserve", MODELSERVE.protocols, _modelserve(models), models=models, ours=True)


def ask(protocol: str, port: int, workload: Workload, timeout: float = 5.0) -> tuple[bool, bytes]:
    """One request; (answered with success, body).  Raises OSError/grpc.RpcError if not reachable."""
    proto = PROTOCOLS[protocol]
    if proto.transport == "grpc":
        import grpc

        unlimited = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
        with grpc.insecure_channel(f"{HOST}:{port}", options=unlimited) as channel:
            return True, channel.unary_unary(proto.path(workload))(proto.request(workload), timeout=timeout)
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", proto.path(workload), proto.request(workload), proto.headers(workload))
        answer = conn.getresponse()
        return answer.status == 200, answer.read()
    finally:
        conn.close()


class Running:
    """One server process group, started pinned to ``cores``."""

    def __init__(self, server: Server, launch: Launch, cores: str) -> None:
        self.server, self.launch = server, launch
        argv, cwd, env = server.command(launch)
        self.log = launch.scratch / "server.log"
        self.answer_sizes: dict[str, int] = {}  # protocol: length of the right answer
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["taskset", "-c", cores, *argv], cwd=cwd, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1", **env})

    def check(self, protocol: str, timeout: float = 90.0, failing: float = 10.0) -> str | None:
        """Wait until ``protocol`` answers; None if the answer is right, else the problem.

        Waits ``timeout`` seconds for the server to answer at all, then ``failing`` seconds more
        for it to stop failing (a model still loading).
        """
        import grpc

        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode}: {self.log_tail()}"
            try:
                ok, body = ask(protocol, self.launch.port(protocol), self.launch.workload,
                               self.launch.workload.timeout)
            except (OSError, http.client.HTTPException, grpc.RpcError) as exc:
                last = f"{type(exc).__name__}: {str(exc)[:300]}"
                if isinstance(exc, grpc.RpcError) and exc.code() != grpc.StatusCode.UNAVAILABLE:  # up, failing
                    last = f"failed answer: gRPC {exc.code().name}: {str(exc.details())[:300]}"
                    deadline = min(deadline, time.monotonic() + failing)
            else:
                if ok:
                    self.answer_sizes[protocol] = len(body)
                    return PROTOCOLS[protocol].check(self.launch.workload, body)
                deadline = min(deadline, time.monotonic() + failing)
                last = f"failed answer: {body[:300]!r}"
            time.sleep(0.2)
        if last.startswith("failed answer"):
            return f"answers, but fails ({last}); log: {self.log_tail()}"
        return f"not ready in {timeout:g}s ({last}); log: {self.log_tail()}"

    def log_tail(self, lines: int = 8) -> str:
        return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """TERM the group, then KILL whatever of it is left (a peer's worker processes too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
