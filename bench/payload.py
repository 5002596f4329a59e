"""``make bench-payload``: requests/s against payload size, per protocol, modelserve beside the peers.

    python -m bench.run --payload [--sizes 4,100,...] [--servers ...] [--duration S] [--reps N]

The identity model on 1 x N floats for N from 4 to 1,000,000 (``SIZES``), every protocol of every
server (modelserve's V2 REST also with the binary tensor extension; Merlin's HTTP_JSON and UPI_V1 on
the bench's MLflow identity model), one worker on core 0 and the load generator on core 1, checked,
warmed up and measured as the 1-worker table of ``make bench`` (16 connections, interleaved rounds,
medians).  A point whose server fails (a peer's 4 MB gRPC message limit, a timeout) is left out of the
curve and listed.  Writes ``bench/results/<date>-payload.md`` and ``.json``, and draws
``bench/results/<date>-payload.png`` with matplotlib from the bench's own venv (bench/.venvs/plot);
a run of every size also copies it to ``bench/results/payload.png``, the one the README shows.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bench import report, venvs
from bench.servers import Server
from bench.workloads import sized

if TYPE_CHECKING:
    from bench.run import Cell, Options

SIZES = (4, 100, 1_000, 10_000, 100_000, 1_000_000)
PLOT = Path(__file__).resolve().parent / "plot_payload.py"


def with_binary(server: Server) -> Server:
    """``server`` with a V2 REST binary row beside its V2 REST JSON one."""
    if "v2-rest" not in server.protocols or "v2-rest-binary" in server.protocols:
        return server
    at = server.protocols.index("v2-rest") + 1
    return replace(server, protocols=(*server.protocols[:at], "v2-rest-binary", *server.protocols[at:]))


def points(cells: list[Cell]) -> list[dict[str, object]]:
    """One record per (server, protocol, size): req/s and p99, or the problems."""
    return [{"server": c.server.name, "protocol": c.protocol, "floats": len(c.workload.row), "ours": c.server.ours,
             "ceiling": c.server.ceiling, "rps": c.median("rps") if c.runs else None,
             "p99_ms": c.median("p99_ms") if c.runs else None, "problems": c.problems} for c in cells]


def table(records: list[dict[str, object]], sizes: list[int]) -> list[str]:
    lines = ["| server | protocol | " + " | ".join(f"{n:,} floats" for n in sizes) + " |",
             "|---|---|" + "---:|" * len(sizes)]
    rows: dict[tuple[str, str], dict[int, str]] = {}
    for r in records:
        rps = r["rps"]
        text = f"{rps:,.1f}" if isinstance(rps, float) and rps < 10 else (
            f"{rps:,.0f}" if isinstance(rps, float) else "FLAGGED")
        rows.setdefault((str(r["server"]), str(r["protocol"])), {})[int(str(r["floats"]))] = text
    for (server, protocol), by_size in rows.items():
        lines.append(f"| {server} | {protocol} | " + " | ".join(by_size.get(n, "") for n in sizes) + " |")
    return lines


def draw(data: Path, png: Path) -> str | None:
    """Draws the curve with the plot venv's matplotlib; None, or why not."""
    try:
        python = venvs.ensure("plot") / "python"
        subprocess.run([str(python), str(PLOT), str(data), str(png)], check=True, capture_output=True, text=True,
                       timeout=300)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"{type(exc).__name__}: {detail[-500:]}"
    return None


def main(options: Options, sizes: list[int], out: Path | None) -> int:
    from bench import run

    options = replace(options, servers=[with_binary(s) for s in options.servers], workers=[1],
                      workloads=[sized(n) for n in sizes], latency=False)
    started = datetime.datetime.now()
    cells = run.run(options)[1]
    records = points(cells)
    base = out or report.RESULTS / f"{started:%Y-%m-%d-%H%M}-payload.md"
    base.parent.mkdir(parents=True, exist_ok=True)
    data, png = base.with_suffix(".json"), base.with_suffix(".png")
    data.write_text(json.dumps({"date": str(started.date()), "command": "python -m bench.run --payload "
                                + f"--sizes {','.join(map(str, sizes))} " + report.command_line(options),
                                "points": records}, indent=1) + "\n")
    problem = draw(data, png)
    if problem is None and out is None and sizes == list(SIZES):  # a whole curve: the one the README shows
        (report.RESULTS / "payload.png").write_bytes(png.read_bytes())
    lines = [f"# Requests/s against payload size, {started.date()}", "", *report.machine(), "",
             f"- identity model, 1 x N floats; 1 worker on core 0, load generator on core 1; 16 connections up to "
             f"10,000 floats, 4 at 100,000 and 2 past it (fewer keep the one core busy when a request takes "
             f"100s of ms); warm-up {options.warmup} s, {options.reps} interleaved round(s) of {options.duration} s "
             f"(at least 10 s past 100,000 floats), medians.",
             "- Peers keep their own message-size limits (gRPC's default 4 MiB): a point they refuse is listed "
             "below, not drawn.",
             f"- `python -m bench.run --payload --sizes {','.join(map(str, sizes))} {report.command_line(options)}`",
             "", f"![req/s against payload size]({png.name})" if problem is None else f"No plot: {problem}", "",
             "Requests/s:", "", *table(records, sizes), ""]
    flagged = [r for r in records if r["rps"] is None]
    if flagged:
        lines += ["Left out of the curve:", ""]
        lines += [f"- {r['server']} {r['protocol']} {r['floats']:,} floats: {'; '.join(map(str, r['problems']))[:300]}"
                  for r in flagged]
        lines.append("")
    base.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"[bench] wrote {base}, {data.name}" + (f", {png.name}" if problem is None else ""), file=sys.stderr)
    return 0 if problem is None else 1
