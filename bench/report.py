"""The report: the machine, the method, and per table the rows with modelserve's ratio to each."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bench import venvs
from bench.protocols import PROTOCOLS

if TYPE_CHECKING:
    from bench.run import Cell, Options

RESULTS = Path(__file__).resolve().parent / "results"


def default_path(quick: bool) -> Path:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    return RESULTS / f"{stamp}{'-quick' if quick else ''}.md"


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "missing"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; memory {memory}",
        f"- OS: {platform.platform()}",
        f"- modelserve on Python {platform.python_version()}; each peer in its own venv (bench/.venvs/<peer>): "
        + ", ".join(f"{' '.join(requirements)} on {_first_line([str(venvs.VENVS / peer / 'bin' / 'python'), '-V'])}"
                    for peer, requirements in venvs.PEERS.items() if peer != "plot"),
        f"- load generators: {_first_line(['wrk', '-v'])}; {_first_line(['h2load', '--version'])}",
    ]


def _ratio(cell: Cell, cells: Iterable[Cell]) -> str:
    """modelserve's requests/s over this row's, on the same protocol if modelserve has it, else the same transport."""
    ours = [c for c in cells if c.server.ours and c.workload == cell.workload and c.runs]
    same = [c for c in ours if c.protocol == cell.protocol] or [
        c for c in ours if PROTOCOLS[c.protocol].transport == PROTOCOLS[cell.protocol].transport]
    if not same or not cell.runs or cell.server.ours:
        return ""
    return f"{same[0].median('rps') / cell.median('rps'):.2f}x (vs {same[0].protocol})"


def table(cells: list[Cell]) -> list[str]:
    lines = ["| workload | server | protocol | req/s | p50 ms | p99 ms | modelserve / this |",
             "|---|---|---|---:|---:|---:|---|"]
    for cell in cells:
        head = f"| {cell.workload.name} | {cell.server.name} | {cell.protocol} |"
        if cell.problems:
            lines.append(f"{head} FLAGGED | | | {'; '.join(cell.problems)[:300].replace('|', '/')} |")
        else:
            lines.append(f"{head} {cell.median('rps'):,.0f} | {cell.median('p50_ms'):.2f} | "
                         f"{cell.median('p99_ms'):.2f} | {_ratio(cell, cells)} |")
    return lines


def summary(cells: list[Cell]) -> list[str]:
    """Issue 15's table: per workload and modelserve protocol, the best peer and the ceiling of the same
    transport in the same run, with modelserve's ratio to each."""
    lines = ["| workload / protocol | modelserve req/s | p99 ms | best peer in the same run | ratio | p99 ms "
             "| lowest peer p99 ms | ceiling in the same run | share |", "|---|---:|---:|---|---:|---:|---:|---|---:|"]
    for ours in (c for c in cells if c.server.ours):
        transport = PROTOCOLS[ours.protocol].transport
        near = [c for c in cells if c.workload == ours.workload and c.runs
                and PROTOCOLS[c.protocol].transport == transport]
        peers = sorted((c for c in near if c.server.peer), key=lambda c: -c.median("rps"))
        ceilings = [c for c in near if c.server.ceiling]
        head = f"| {ours.workload.name} {ours.protocol} ({ours.server.name}) |"
        if not ours.runs:
            lines.append(f"{head} FLAGGED | | {'; '.join(ours.problems)[:160].replace('|', '/')} | | | | | |")
            continue
        rps = ours.median("rps")
        line = f"{head} {rps:,.0f} | {ours.median('p99_ms'):.2f} |"
        if peers:
            best = peers[0]
            lowest = min(peers, key=lambda c: c.median("p99_ms"))
            line += (f" {best.server.name} {best.protocol} {best.median('rps'):,.0f} | "
                     f"{rps / best.median('rps'):.2f}x | {best.median('p99_ms'):.2f} | "
                     f"{lowest.median('p99_ms'):.2f} ({lowest.server.name} {lowest.protocol}) |")
        else:
            line += " none measured | | | |"
        if ceilings:
            top = max(ceilings, key=lambda c: c.median("rps"))
            line += f" {top.server.name} {top.median('rps'):,.0f} | {rps / top.median('rps'):.0%} |"
        else:
            line += " none measured | |"
        lines.append(line)
    return lines


def markdown(tables: dict[int, list[Cell]], options: Options, seconds: float) -> str:
    lines = [f"# modelserve side by side, {datetime.date.today()}", ""]
    for workers, cells in tables.items():
        lines += [f"## Summary, {workers} worker{'s' if workers > 1 else ''}", "",
                  "Per workload and protocol of modelserve: the fastest peer on the same transport (REST or gRPC) "
                  "and the ceiling of that transport, in the same run; ratio and share are modelserve's req/s over "
                  "theirs. `python -m bench.run " + command_line(options) + "`", "", *summary(cells), ""]
    lines += ["## Machine", "", *machine(), "",
             "## Method", "",
             f"- {CONNECTIONS_NOTE}; warm-up {options.warmup} s, then {options.reps} interleaved round(s) of "
             f"{options.duration} s (round-robin over every server and protocol); medians of the rounds.",
             "- HTTP load: `wrk -t1 -c16`; gRPC load: `h2load -t1 -c16 -m1` with gRPC framing, percentiles from "
             "its `--log-file`.",
             "- Every answer was checked once before loading; a row with errors or a wrong answer is FLAGGED.",
             "- Merlin (merlin-pyfunc-server, HTTP_JSON and UPI_V1, one protocol per process as Merlin does) and "
             "`modelserve serve --model-dir` get the same variables (`CARAML_PROTOCOL`, `CARAML_HTTP_PORT`, "
             "`CARAML_GRPC_PORT`, `CARAML_MODEL_FULL_NAME` = the model's name, `WORKERS`, `LOG_LEVEL=WARNING`, "
             "`PROMETHEUS_MULTIPROC_DIR`) and serve the same directories: bench/models/mlflow saved with Merlin's "
             "own MLflow 1.26.1. UPI requests: one table row of N double columns.",
             "- Ratio: modelserve's req/s over the row's (above 1: modelserve is faster; against a ceiling: the "
             "share of the limit reached).",
             "- " + "; ".join(f"{w.name}: {w.title}" for w in options.workloads), ""]
    for workers, cells in tables.items():
        if workers == 1:
            lines += ["## 1 worker: server pinned to core 0 (`taskset -c 0`), load generator to core 1", ""]
        else:
            lines += [f"## {workers} workers: server and load generator sharing cores 0,1 (the load generator's "
                      "cost is in the figures)", ""]
        lines += [*table(cells), ""]
        if any(c.paced for c in cells):
            from bench import latency

            lines += [f"### Latency at a fixed offered load, {workers} worker{'s' if workers > 1 else ''}", "",
                      latency.METHOD, "", *latency.table(cells), ""]
    lines.append(f"Wall time: {seconds:.0f} s.")
    return "\n".join(lines) + "\n"


CONNECTIONS_NOTE = "16 connections"


def command_line(options: Options) -> str:
    """The options of ``bench.run`` that reproduce this run."""
    from bench.servers import SERVERS

    parts = []
    if [s.name for s in options.servers] != list(SERVERS):
        parts.append("--servers '" + ",".join(s.name for s in options.servers) + "'")
    parts += [f"--workloads {','.join(w.name for w in options.workloads)}",
              f"--workers {','.join(map(str, options.workers))}", f"--duration {options.duration}",
              f"--warmup {options.warmup}", f"--reps {options.reps}"]
    if options.latency:
        parts.append("--latency")
    return " ".join(parts)
