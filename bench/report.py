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
        f"- modelserve on Python {platform.python_version()}; each peer in its own venv (bench/.venvs/<peer>) on "
        f"{_first_line([str(venvs.VENVS / 'kserve' / 'bin' / 'python'), '--version'])}: "
        + ", ".join(" ".join(requirements) for requirements in venvs.PEERS.values()),
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


def markdown(tables: dict[int, list[Cell]], options: Options, seconds: float) -> str:
    lines = [f"# modelserve side by side, {datetime.date.today()}", "", "## Machine", "", *machine(), "",
             "## Method", "",
             f"- {CONNECTIONS_NOTE}; warm-up {options.warmup} s, then {options.reps} interleaved round(s) of "
             f"{options.duration} s (round-robin over every server and protocol); medians of the rounds.",
             "- HTTP load: `wrk -t1 -c16`; gRPC load: `h2load -t1 -c16 -m1` with gRPC framing, percentiles from "
             "its `--log-file`.",
             "- Every answer was checked once before loading; a row with errors or a wrong answer is FLAGGED.",
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
    lines.append(f"Wall time: {seconds:.0f} s.")
    return "\n".join(lines) + "\n"


CONNECTIONS_NOTE = "16 connections"
