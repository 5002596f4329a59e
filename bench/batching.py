"""``make bench-batching``: the sklearn forest (W4) at 64 concurrent clients, modelserve
with and without adaptive batching, side by side.

    python -m bench.run --batching [--duration S] [--reps N]

One worker, the server on core 0 and the load generator on core 1 (as the bench's 1-worker
table); each protocol is checked, warmed up, then measured ``--reps`` interleaved rounds
(median).  The goal of issue 6: batched throughput at least 3x the unbatched one, with a
p99 no worse.
"""

from __future__ import annotations

import datetime
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import load, report
from bench.protocols import PROTOCOLS
from bench.servers import HOST, MODELS, REPO, Command, Launch, Running, Server
from bench.workloads import FOREST

CONNECTIONS = 64
BATCHING_FLAGS = ("--max-batch-size", "64", "--max-batch-time-ms", "5")
PROTOCOL_NAMES = ("seldon-rest", "seldon-grpc")


def _modelserve(flags: tuple[str, ...]) -> Callable[[Launch], Command]:
    def command(x: Launch) -> Command:
        return ([str(x.bin / "python"), "-m", "modelserve", "serve", x.workload.seldon_class, "--host", HOST,
                 "--http-port", str(x.http), "--grpc-port", str(x.grpc), "--metrics-port", str(x.metrics),
                 "--workers", "1", "--grpc-workers", "1", "--log-level", "WARNING", *flags],
                MODELS / "seldon", {"PYTHONPATH": str(REPO)})  # ForestModel imports bench.workloads
    return command


SIDES = {
    "unbatched": Server("modelserve", PROTOCOL_NAMES, _modelserve(())),
    "batched": Server("modelserve " + " ".join(BATCHING_FLAGS), PROTOCOL_NAMES, _modelserve(BATCHING_FLAGS)),
}


def measure(running: Running, protocol: str, seconds: int) -> load.Run:
    proto, port = PROTOCOLS[protocol], running.launch.port(protocol)
    if proto.transport == "grpc":
        return load.h2load(port, proto.path(FOREST), proto.request(FOREST), running.answer_sizes[protocol], seconds,
                           CONNECTIONS, "1")
    return load.wrk(port, proto.path(FOREST), proto.request(FOREST), seconds, CONNECTIONS, "1")


def run(duration: int, warmup: int, reps: int) -> dict[tuple[str, str], list[load.Run]]:
    """{(side, protocol): measured runs}; raises if a side answers wrong.  Errors of a run
    (the unbatched server, overloaded, lets some of wrk's requests time out) are reported
    with it, in the table."""
    results: dict[tuple[str, str], list[load.Run]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-batching-") as scratch:
        running: dict[str, Running] = {}
        try:
            for side, server in SIDES.items():
                directory = Path(scratch, side)
                directory.mkdir()
                running[side] = Running(server, Launch(FOREST, 1, server.bin(), directory), "0")
            for side, process in running.items():
                for protocol in PROTOCOL_NAMES:
                    if problem := process.check(protocol):
                        raise RuntimeError(f"{side} {protocol}: {problem}")
            for rep in range(reps + 1):  # round 0 is the warm-up
                for protocol in PROTOCOL_NAMES:
                    for side, process in running.items():
                        result = measure(process, protocol, warmup if rep == 0 else duration)
                        log(f"{side} {protocol} round {rep}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                            f"p99 {result.p99_ms:.2f} ms {'; '.join(result.problems)}")
                        if rep:
                            results.setdefault((side, protocol), []).append(result)
        finally:
            for process in running.values():
                process.stop()
    return results


def table(results: dict[tuple[str, str], list[load.Run]]) -> str:
    lines = [
        f"W4 ({FOREST.title}), {CONNECTIONS} connections, 1 worker; batched: {' '.join(BATCHING_FLAGS)}",
        "",
        "| protocol | side | req/s | p50 ms | p99 ms | throughput x | p99 x | problems |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for protocol in PROTOCOL_NAMES:
        base = _median(results[("unbatched", protocol)])
        for side in SIDES:
            runs = results[(side, protocol)]
            rps, p50, p99 = _median(runs)
            problems = "; ".join(p for r in runs for p in r.problems)
            lines.append(f"| {protocol} | {side} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | "
                         f"{rps / base[0]:.2f} | {p99 / base[2]:.2f} | {problems} |")
    return "\n".join(lines)


def _median(runs: list[load.Run]) -> tuple[float, float, float]:
    return (statistics.median(r.rps for r in runs), statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs))


def log(message: str) -> None:
    print(f"[bench-batching] {message}", file=sys.stderr, flush=True)


def markdown(results: dict[tuple[str, str], list[load.Run]], duration: int, warmup: int, reps: int) -> str:
    lines = [f"# modelserve adaptive batching, {datetime.date.today()}", "", *report.machine()[:2],
             f"- warm-up {warmup} s, then {reps} interleaved round(s) of {duration} s; medians of the rounds; "
             f"`wrk -t1 -c{CONNECTIONS}`, `h2load -t1 -c{CONNECTIONS} -m1`; server on core 0, load on core 1.",
             "", table(results), ""]
    return "\n".join(lines)


def main(duration: int, warmup: int, reps: int, out: Path | None = None) -> int:
    text = markdown(run(duration, warmup, reps), duration, warmup, reps)
    print(text)
    out = out or report.RESULTS / f"{datetime.datetime.now():%Y-%m-%d-%H%M}-batching.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log(f"wrote {out}")
    return 0
