"""Instructions per gRPC call, counted by valgrind's callgrind: a figure that holds on a busy machine.

    python -m bench.callgrind [--server modelserve|ceiling] [--protocol seldon-grpc|v2-grpc|v2-grpc-raw]
                              [--workload W1] [--calls 2000] [--annotate N] [-- modelserve flags...]

The server runs in one process under ``valgrind --tool=callgrind`` with counting off; after
a warm-up, counting is switched on for ``--calls`` unary calls (h2load, 16 connections) and
off again.  Every thread of the process is counted (the event loop, grpcio's poller and its
core threads).  ``modelserve`` is the gRPC worker's own serving code (``workers/grpc.serve``)
on uvloop; ``ceiling`` is ``bench/ceilings.py``'s bare grpc.aio server answering fixed bytes,
on asyncio's loop as in ``make bench`` (``-- uvloop``: on uvloop, modelserve's loop).
With ``--annotate N`` the N functions with the most instructions (inclusive) are printed.
Wall-clock figures are meaningless under valgrind; only the instruction counts are.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import load
from bench.protocols import PROTOCOLS
from bench.servers import HOST, MODELS, REPO, free_port
from bench.workloads import WORKLOADS, Workload


def serve_modelserve(port: int, workload: str, flags: list[str]) -> None:
    """modelserve's gRPC worker code in this process (no supervisor): what a gRPC worker runs."""
    import uvloop

    from modelserve import cli
    from modelserve.metrics import make_directory
    from modelserve.model import build_model
    from modelserve.workers.assembly import assemble
    from modelserve.workers.grpc import serve

    w = WORKLOADS[workload]
    os.chdir(MODELS / "seldon")
    sys.path.insert(0, str(MODELS / "seldon"))
    args = cli.build_parser().parse_args(
        ["serve", w.seldon_class, "--grpc-port", str(port), "--host", HOST, "--model-name", w.model, *flags]
    )
    settings = cli.settings_from_args(args)
    assembly = assemble(build_model(settings), settings, make_directory(), settings.grpc_user_threads, grpc=True)
    uvloop.run(serve(assembly, _AloneWorker()))  # type: ignore[arg-type]


class _AloneWorker:
    """What ``workers/grpc.serve`` asks of its supervisor, for a worker with none."""

    def max_requests_for_worker(self) -> None:
        return None

    def mark_serving(self) -> None:
        pass

    async def keep_beating(self, healthy: object) -> None:
        pass

    def leave(self) -> None:
        pass


def serve_ceiling(port: int, flags: list[str]) -> None:
    """bench/ceilings.py's bare grpc.aio server; on uvloop (modelserve's loop) with the flag ``uvloop``."""
    import asyncio

    import uvloop

    from bench import ceilings

    (uvloop.run if "uvloop" in flags else asyncio.run)(ceilings.serve_grpc(port))


def _totals(out: Path) -> int:
    """Instructions of every dump of the run (callgrind writes one file per thread with --separate-threads=no: one)."""
    total = 0
    for path in out.parent.glob(out.name + "*"):
        match = re.search(r"^totals:\s+(\d+)", path.read_text(errors="replace"), re.MULTILINE)
        if match:
            total += int(match.group(1))
    return total


def measure(server: str, protocol: str, workload: str, calls: int, flags: list[str], annotate: int) -> int:
    proto, w = PROTOCOLS[protocol], WORKLOADS[workload]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        out = Path(scratch, "callgrind.out")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if server == "ceiling":
            answer = Path(scratch, "answer.bin")
            answer.write_bytes(proto_answer(protocol, w))
            env["BENCH_ANSWER"] = str(answer)
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, "-m", "bench.callgrind", "--serve", server, "--port", str(port),
                   "--workload", workload, "--", *flags]
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            body = proto.request(w)
            size = _wait(proc, protocol, port, w)
            h2load_calls(port, proto.path(w), body, size, 200)  # warm-up
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
            h2load_calls(port, proto.path(w), body, size, calls)
            subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        total = _totals(out)
        if annotate:
            files = [str(p) for p in out.parent.glob(out.name + "*")]
            text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", *files],
                                  capture_output=True, text=True, check=False).stdout
            lines = [line for line in text.splitlines() if re.match(r"^\s*[\d,]+ \(", line)]
            print("\n".join(lines[:annotate]))
    return total


def h2load_calls(port: int, method: str, message: bytes, answer_size: int, calls: int) -> None:
    """Exactly ``calls`` unary calls over 16 connections; every one must get the right-sized answer."""
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch, "request.bin")
        data.write_bytes(load.grpc_frame(message))
        out = subprocess.run(["h2load", "-t1", "-c16", "-m1", "-n", str(calls), "-d", str(data),
                              "-H", "content-type: application/grpc", "-H", "te: trailers",
                              f"http://{HOST}:{port}{method}"], capture_output=True, text=True, check=True).stdout
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    traffic = re.search(r"traffic: .*? \((\d+)\) data", out)
    answered = done is not None and int(done.group(1)) == calls
    if not answered or traffic is None or int(traffic.group(1)) < calls * (answer_size + 5):
        raise RuntimeError(f"not every call got its answer:\n{out}")


def proto_answer(protocol: str, workload: Workload) -> bytes:
    from bench import protocols

    if protocol == "seldon-grpc":
        return protocols.seldon_grpc_answer(workload)
    raise SystemExit(f"the ceiling answers seldon-grpc only, not {protocol}")


def _wait(proc: subprocess.Popen[bytes], protocol: str, port: int, workload: Workload, timeout: float = 600) -> int:
    """The length of the right answer, once the server answers it."""
    from bench.servers import ask

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            _, body = ask(protocol, port, workload, timeout=30)
        except Exception:
            time.sleep(1)
            continue
        if problem := PROTOCOLS[protocol].check(workload, body):
            raise RuntimeError(problem)
        return len(body)
    raise RuntimeError("the server did not answer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="modelserve", choices=("modelserve", "ceiling"))
    parser.add_argument("--protocol", default="seldon-grpc", choices=("seldon-grpc", "v2-grpc", "v2-grpc-raw"))
    parser.add_argument("--workload", default="W1", choices=sorted(WORKLOADS))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--annotate", type=int, default=0, help="print the N costliest functions (inclusive)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # inside valgrind: be the server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("flags", nargs="*", help="extra modelserve flags (after --)")
    args = parser.parse_args()
    if args.serve == "modelserve":
        serve_modelserve(args.port, args.workload, args.flags)
        return 0
    if args.serve == "ceiling":
        serve_ceiling(args.port, args.flags)
        return 0
    total = measure(args.server, args.protocol, args.workload, args.calls, args.flags, args.annotate)
    print(f"{args.server} {args.protocol} {args.workload} {' '.join(args.flags)}: "
          f"{total / args.calls:,.0f} instructions per call ({total:,} for {args.calls} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
