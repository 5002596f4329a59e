"""``make bench``: modelserve side by side with its peers and the ceilings, as ratios.

    python -m bench.run [--quick] [--servers NAME,...] [--workloads W1,...] [--duration S] [--reps N]

For each table (1 worker: server on core 0, load generator on core 1; 2 workers: both on both
cores) and each workload, every server is started and each of its protocols checked once; then
a warm-up run per (server, protocol), then ``--reps`` rounds, each round going over all of them
in turn (interleaved), and the median of the rounds is reported.  The report opens with the
summary of issue 15 (per modelserve row: the best peer and the ceiling of its transport).

Other modes: ``--latency`` (also p50/p99 at 50 % and 90 % of each row's maximum, bench/latency.py),
``--payload`` (req/s against payload size, bench/payload.py), ``--startup`` (launch to health,
bench/startup.py), ``--batching`` (bench/batching.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import load, report
from bench.protocols import PROTOCOLS
from bench.servers import SERVERS, Launch, Running, Server, select
from bench.workloads import WORKLOADS, Workload


@dataclass
class Cell:
    """One row of a table: a server, a protocol, a workload."""

    server: Server
    protocol: str
    workload: Workload
    runs: list[load.Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    paced: dict[float, list[load.Paced]] = field(default_factory=dict)  # share of the maximum: runs (--latency)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(run, attr) for run in self.runs)


@dataclass
class Options:
    servers: list[Server]
    workloads: list[Workload]
    workers: list[int]
    duration: int
    warmup: int
    reps: int
    latency: bool = False  # also the fixed-rate runs at LOAD_SHARES of each row's maximum (bench/latency.py)


def measure(cell: Cell, running: Running, seconds: int, load_cores: str | None) -> load.Run:
    """One run of the load on ``cell``; a load generator that fails is this row's problem, not the bench's end."""
    proto = PROTOCOLS[cell.protocol]
    port, workload = running.launch.port(cell.protocol), cell.workload
    try:
        if proto.transport == "grpc":
            return load.h2load(port, proto.path(workload), proto.request(workload),
                               running.answer_sizes[cell.protocol], seconds, workload.connections, load_cores)
        return load.wrk(port, proto.path(workload), proto.request(workload), seconds, workload.connections,
                        load_cores, proto.headers(workload), timeout=max(2.0, workload.timeout))
    except (RuntimeError, subprocess.SubprocessError) as exc:
        return load.Run(0.0, 0.0, 0.0, [f"load generator: {type(exc).__name__}: {str(exc)[:300]}"])


def run_workload(options: Options, workload: Workload, workers: int) -> list[Cell]:
    server_cores, load_cores = ("0", "1") if workers == 1 else ("0,1", None)
    servers = [s for s in options.servers if workers == 1 or s.multi_worker]
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        running: dict[str, Running] = {}
        unlaunched: dict[str, str] = {}  # server: why it could not be launched (a venv, a model to save)
        try:
            for i, server in enumerate(servers):
                directory = Path(scratch, str(i))
                directory.mkdir()
                try:
                    launch = Launch(workload, workers, server.bin(), directory)
                    running[server.name] = Running(server, launch, server_cores)
                except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
                    unlaunched[server.name] = f"not launched: {type(exc).__name__}: {str(exc)[:300]}"
            for server in servers:
                for protocol in server.protocols:
                    cell = Cell(server, protocol, workload)
                    if server.name in unlaunched:
                        cell.problems.append(unlaunched[server.name])
                    elif problem := running[server.name].check(protocol):
                        cell.problems.append(f"check: {problem}")
                    cells.append(cell)
            ready = [c for c in cells if not c.problems]
            for rep in range(options.reps + 1):  # round 0 is the warm-up
                for cell in ready:
                    seconds = options.warmup if rep == 0 else max(options.duration, workload.min_seconds)
                    result = measure(cell, running[cell.server.name], seconds, load_cores)
                    if rep and result.problems:
                        cell.problems.extend(result.problems)
                    elif rep:
                        cell.runs.append(result)
                    log(f"{workload.name} x{workers} {cell.server.name} {cell.protocol} round {rep}: "
                        f"{result.rps:,.0f} req/s {'; '.join(result.problems)}")
            if options.latency:
                from bench import latency

                latency.measure([c for c in ready if c.runs], running, options, load_cores)
        finally:
            for process in running.values():
                process.stop()
    return cells


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run(options: Options) -> dict[int, list[Cell]]:
    """{workers: cells} for every table."""
    return {workers: [c for w in options.workloads for c in run_workload(options, w, workers)]
            for workers in options.workers}


def parse(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short subset: W1 and W3, 1 worker, 1 round of 2 s")
    parser.add_argument("--servers", help=f"comma-separated, from: {', '.join(SERVERS)} (default: all); "
                        "a name that is not exact selects every server it begins (merlin: both Merlin rows)")
    parser.add_argument("--workloads", help="comma-separated, e.g. W1,W3 (default: all)")
    parser.add_argument("--workers", default="1,2", help="tables to make: 1, 2 or 1,2")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of the warm-up run")
    parser.add_argument("--reps", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--latency", action="store_true",
                        help="after the throughput rounds, p50/p99 at 50 %% and 90 %% of each row's maximum, open loop")
    parser.add_argument("--payload", action="store_true",
                        help="only the payload-size curve (bench/payload.py): req/s against floats per request")
    parser.add_argument("--sizes", default=None, help="with --payload: floats per request, comma-separated "
                        "(default: 4,100,1000,10000,100000,1000000)")
    parser.add_argument("--startup", action="store_true",
                        help="only the start-up bench (bench/startup.py): launch to health, iris and a 500 MB model")
    parser.add_argument("--batching", action="store_true",
                        help="only the batching bench (bench/batching.py): W4 at 64 connections, with and without")
    parser.add_argument("--out", type=Path, help="markdown report (default: bench/results/<date>.md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.workloads, args.workers, args.duration, args.warmup, args.reps = (
            args.workloads or "W1,W3", "1", 2, 1, 1)
    servers = select(args.servers)
    workloads = [WORKLOADS[w] for w in (args.workloads or ",".join(WORKLOADS)).split(",")]
    workers = [int(n) for n in args.workers.split(",")]
    return Options(servers, workloads, workers, args.duration, args.warmup, args.reps, args.latency), args


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    if args.batching:
        from bench import batching

        return batching.main(options.duration, options.warmup, options.reps, args.out)
    if args.startup:
        from bench import startup

        return startup.main(args.servers, args.reps, args.out)
    if args.payload:
        from bench import payload

        sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else list(payload.SIZES)
        if not args.servers:  # the variants of a server (one setting changed) have no place on the curve
            options.servers = [s for s in options.servers if not s.variant]
        return payload.main(options, sizes, args.out)
    started = time.monotonic()
    tables = run(options)
    text = report.markdown(tables, options, time.monotonic() - started)
    print(text)
    out = args.out or report.default_path(quick=args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log(f"wrote {out}")
    return 1 if any(c.problems for cells in tables.values() for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main())
