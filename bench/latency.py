"""Latency at a fixed offered load: every row at 50 % and 90 % of its own measured maximum, open loop.

    python -m bench.run --latency [--workloads W1,W3] [--workers 1] [--duration S] [--reps N]

After the usual throughput rounds (closed loop, 16 connections: the row's maximum is the median of
its rounds), each row gets ``--reps`` interleaved rounds of ``--duration`` s at each share of its
maximum, sent open loop by h2load ``--rps`` (HTTP/1.1 for REST, HTTP/2 for gRPC; see
``load.h2load_paced``): requests leave on a schedule, not when the previous answer came back, so a
slow answer does not slow the load down and hide itself (coordinated omission).  Accuracy:

* latency is h2load's own (C, libev), from writing a request to reading its whole answer;
* arrivals are evenly paced per connection (like wrk2), the connections' phases staggered across
  the interval: steadier than Poisson arrivals, so a lower bound for bursty traffic;
* a request waits for its connection only when the previous answer on that connection took longer
  than the connection's interval (4 to 96 connections, chosen per rate): the run reports the
  share of such answers and is flagged above 1 %, and flagged when the rate was not held;
* the load generator has its own core in the 1-worker table; the ceilings' rows show its floor.
"""

from __future__ import annotations

import statistics
import sys
from typing import TYPE_CHECKING

from bench import load
from bench.protocols import PROTOCOLS

if TYPE_CHECKING:
    from bench.run import Cell, Options
    from bench.servers import Running

LOAD_SHARES = (0.5, 0.9)


def paced(cell: Cell, running: Running, rate: float, seconds: int, load_cores: str | None) -> load.Paced:
    proto = PROTOCOLS[cell.protocol]
    grpc = proto.transport == "grpc"
    return load.h2load_paced(running.launch.port(cell.protocol), proto.path(cell.workload),
                             proto.request(cell.workload), rate, seconds, load_cores, grpc=grpc,
                             answer_size=running.answer_sizes.get(cell.protocol, 0),
                             headers=proto.headers(cell.workload))


def measure(cells: list[Cell], running: dict[str, Running], options: Options, load_cores: str | None) -> None:
    """Fills ``cell.paced`` for every share; rounds interleaved over the cells like the throughput rounds."""
    for share in LOAD_SHARES:
        for rep in range(options.reps):
            for cell in cells:
                rate = share * cell.median("rps")
                try:
                    result = paced(cell, running[cell.server.name], rate, options.duration, load_cores)
                except Exception as exc:  # a tool failure is this row's problem, not the bench's end
                    result = load.Paced(0.0, 0.0, 0.0, [f"{type(exc).__name__}: {str(exc)[:200]}"], rate)
                cell.paced.setdefault(share, []).append(result)
                print(f"[bench] {cell.workload.name} {cell.server.name} {cell.protocol} at {share:.0%} "
                      f"({rate:,.0f} req/s) round {rep + 1}: p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms "
                      f"{'; '.join(result.problems)}", file=sys.stderr, flush=True)


def table(cells: list[Cell]) -> list[str]:
    head = "| workload | server | protocol | max req/s |"
    rule = "|---|---|---|---:|"
    for share in LOAD_SHARES:
        head += f" {share:.0%}: req/s | p50 ms | p99 ms |"
        rule += "---:|---:|---:|"
    lines = [head + " notes |", rule + "---|"]
    for cell in cells:
        if not cell.paced:
            continue
        line = f"| {cell.workload.name} | {cell.server.name} | {cell.protocol} | {cell.median('rps'):,.0f} |"
        notes = []
        for share in LOAD_SHARES:
            runs = cell.paced.get(share, [])
            clean = [r for r in runs if not r.problems]
            notes += [f"{share:.0%}: {p}" for r in runs for p in r.problems]
            if clean:
                line += (f" {statistics.median(r.offered for r in clean):,.0f} | "
                         f"{statistics.median(r.p50_ms for r in clean):.2f} | "
                         f"{statistics.median(r.p99_ms for r in clean):.2f} |")
            else:
                line += " FLAGGED | | |"
        lines.append(f"{line} {'; '.join(notes)[:300].replace('|', '/')} |")
    return lines


METHOD = (
    "Open loop (h2load `--rps`, one request in flight per connection, connections' start staggered "
    "so arrivals are evenly paced): each row at 50 % and 90 % of its own maximum above; medians of the "
    "rounds; only rounds without problems count (a round whose rate was not held, or where more than "
    "1 % of answers outlasted their connection's send interval, is listed in the notes)."
)
