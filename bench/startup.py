"""``make bench-startup``: seconds from launching a server's command to its health check answering.

    python -m bench.run --startup [--servers ...] [--reps N]

Two models: the iris example (examples/iris for modelserve and seldon-core; the peers serve their
own iris model of the bench, a logistic regression fitted at start; Merlin and ``modelserve serve
--model-dir`` the bench's MLflow iris model) and a model holding 500 MiB of random arrays made at
load (bench/models/BigArrayModel.py and its twins for each peer).  One server at a time, pinned to
core 0, 1 worker, nothing else running; the clock starts just before the command is launched and
the health URL is polled every 5 ms.  Two figures: ``ready``, the server's own readiness check
answering 200 (the URL a Kubernetes probe would use), and ``first answer``, a prediction answered
200 (a server that loads lazily is ready before it can answer).  Medians of ``--reps`` starts,
interleaved over the servers, after one start of each that is not counted (it warms the page cache).
"""

from __future__ import annotations

import datetime
import http.client
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import report
from bench.protocols import PROTOCOLS
from bench.servers import (
    HOST,
    MODELS,
    REPO,
    Command,
    Launch,
    Running,
    Server,
    caraml_env,
    kserve_command,
    mlflow_models,
    mlserver_command,
)
from bench.workloads import WORKLOADS, Workload

IRIS_EXAMPLE = REPO / "examples" / "iris"
KINDS = {
    "iris": Workload("iris", "the iris example", "iris", WORKLOADS["W2"].row),
    "500 MB": Workload("big", "500 MiB of arrays made at load, identity", "big", (1.0, 2.0, 3.0, 4.0)),
}


@dataclass(frozen=True)
class Starter:
    """How one server starts for the start-up bench: its command, readiness URL and a prediction."""

    name: str
    venv: str | None
    command: Callable[[Launch, str], Command]  # (launch, kind)
    health: Callable[[Workload], str]  # GET path answering 200 when ready
    protocol: str  # of the first prediction

    def server(self, kind: str) -> Server:
        return Server(self.name, (self.protocol,), lambda x: self.command(x, kind), venv=self.venv)


def _seldon_class(kind: str) -> tuple[str, Path]:
    return ("IrisClassifier", IRIS_EXAMPLE) if kind == "iris" else ("BigArrayModel", MODELS)


def _modelserve(x: Launch, kind: str) -> Command:
    cls, cwd = _seldon_class(kind)
    return ([str(x.bin / "python"), "-m", "modelserve", "serve", cls, "--host", HOST, "--http-port", str(x.http),
             "--grpc-port", str(x.grpc), "--metrics-port", str(x.metrics), "--workers", "1", "--grpc-workers", "1",
             "--log-level", "WARNING", "--model-name", x.workload.model], cwd, {})


def _seldon_core(x: Launch, kind: str) -> Command:
    cls, cwd = _seldon_class(kind)
    return ([str(x.bin / "seldon-core-microservice"), cls, "--http-port", str(x.http), "--grpc-port", str(x.grpc),
             "--metrics-port", str(x.metrics), "--workers", "1", "--grpc-workers", "1", "--log-level", "WARNING"],
            cwd, {})


def _merlin(x: Launch, kind: str) -> Command:
    model = mlflow_models.saved(x.workload.model)
    return [str(x.bin / "merlin-pyfunc-server"), "--model_dir", str(model)], x.scratch, caraml_env(x, "HTTP_JSON")


def _modelserve_mlflow(x: Launch, kind: str) -> Command:
    model = mlflow_models.saved(x.workload.model)
    env = {**caraml_env(x, "HTTP_JSON"), "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(x.http),
           "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(x.grpc), "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(x.metrics)}
    return [str(x.bin / "python"), "-m", "modelserve", "serve", "--model-dir", str(model)], x.scratch, env


STARTERS = {
    s.name: s
    for s in (
        Starter("modelserve", None, _modelserve, lambda w: "/health/ping", "seldon-rest"),
        Starter("modelserve --model-dir (HTTP_JSON)", None, _modelserve_mlflow, lambda w: f"/v1/models/{w.model}",
                "merlin-http"),
        Starter("seldon-core 1.19.0", "seldon-core", _seldon_core, lambda w: "/health/ping", "seldon-rest"),
        Starter("mlserver 1.7.1", "mlserver", lambda x, kind: mlserver_command(None)(x), lambda w: "/v2/health/ready",
                "v2-rest"),
        Starter("kserve 0.21.0", "kserve", lambda x, kind: kserve_command(x), lambda w: "/v2/health/ready", "v1-rest"),
        Starter("merlin-pyfunc-server 0.50.0 (HTTP_JSON)", "merlin", _merlin, lambda w: f"/v1/models/{w.model}",
                "merlin-http"),
    )
}


@dataclass
class Start:
    ready_s: float | None = None
    answer_s: float | None = None
    problem: str | None = None


@dataclass
class Row:
    starter: Starter
    kind: str
    starts: list[Start] = field(default_factory=list)

    def median(self, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.starts if getattr(s, attr) is not None]
        return statistics.median(values) if values and len(values) == len(self.starts) else None


def _status(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body, headers or {})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def start_once(starter: Starter, kind: str, scratch: Path, timeout: float = 180.0) -> Start:
    workload, server = KINDS[kind], starter.server(kind)
    launch = Launch(workload, 1, server.bin(), scratch)
    proto = PROTOCOLS[starter.protocol]
    result = Start()
    started = time.monotonic()
    running = Running(server, launch, "0")
    try:
        deadline = started + timeout
        while time.monotonic() < deadline:
            if running.proc.poll() is not None:
                result.problem = f"exited with {running.proc.returncode}: {running.log_tail(4)}"
                return result
            try:
                if result.ready_s is None and _status(launch.http, "GET", starter.health(workload)) == 200:
                    result.ready_s = time.monotonic() - started
                if result.ready_s is not None and _status(
                        launch.http, "POST", proto.path(workload), proto.request(workload),
                        proto.headers(workload)) == 200:
                    result.answer_s = time.monotonic() - started
                    return result
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.005)
        result.problem = f"not ready in {timeout:g} s: {running.log_tail(4)}"
        return result
    finally:
        running.stop()


def run(starters: list[Starter], reps: int, kinds: tuple[str, ...] = tuple(KINDS)) -> list[Row]:
    """Round 0 warms the page cache (imports, venvs) and is not counted; then ``reps`` interleaved rounds."""
    rows = [Row(starter, kind) for kind in kinds for starter in starters]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        for rep in range(reps + 1):
            for i, row in enumerate(rows):
                directory = Path(scratch, f"{rep}-{i}")
                directory.mkdir()
                try:
                    start = start_once(row.starter, row.kind, directory)
                except Exception as exc:  # a peer that cannot be installed or launched is its row's problem
                    start = Start(problem=f"{type(exc).__name__}: {str(exc)[:300]}")
                if rep:
                    row.starts.append(start)
                print(f"[bench] start-up {row.kind} {row.starter.name} round {rep}: ready {start.ready_s} s, "
                      f"first answer {start.answer_s} s {start.problem or ''}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[Row]) -> list[str]:
    lines = ["| model | server | ready s | first answer s | problems |", "|---|---|---:|---:|---|"]
    for row in rows:
        ready, answer = row.median("ready_s"), row.median("answer_s")
        problems = "; ".join(s.problem for s in row.starts if s.problem)[:300].replace("|", "/")
        lines.append(f"| {row.kind} | {row.starter.name} | {'' if ready is None else f'{ready:.2f}'} | "
                     f"{'' if answer is None else f'{answer:.2f}'} | {problems} |")
    return lines


def main(servers: str | None, reps: int, out: Path | None) -> int:
    names = [n for n in STARTERS if servers is None or any(n == s or n.startswith(s) for s in servers.split(","))]
    if not names:
        raise SystemExit(f"no start-up server among {servers!r}; the servers: {', '.join(STARTERS)}")
    rows = run([STARTERS[n] for n in names], reps)
    lines = [f"# Start-up time, {datetime.date.today()}", "", *report.machine()[:3], "",
             __doc__.split("\n\n", 2)[2].replace("\n", " ").strip(), "",
             f"`python -m bench.run --startup --reps {reps}" + (f" --servers '{servers}'`" if servers else "`"), "",
             *table(rows), ""]
    text = "\n".join(lines)
    print(text)
    out = out or report.RESULTS / f"{datetime.datetime.now():%Y-%m-%d-%H%M}-startup.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"[bench] wrote {out}", file=sys.stderr)
    return 1 if any(s.problem for r in rows for s in r.starts) else 0
