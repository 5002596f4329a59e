"""Load generators: wrk for HTTP, h2load with gRPC framing for gRPC; one measured run each.

Every run returns requests/s, p50 and p99 latency and the problems the tool saw (errors,
non-2xx answers, short gRPC answers); a run with problems is flagged, never reported.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    problems: list[str] = field(default_factory=list)


def _pinned(cores: str | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", cores, *command] if cores else command


def _lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[\n{text}]{'=' * level}]"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(token: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", token)
    if match is None:
        raise ValueError(f"unparsable wrk latency {token!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(port: int, path: str, body: bytes, seconds: int, connections: int, cores: str | None,
        headers: dict[str, str] | None = None, timeout: float = 2.0) -> Run:
    """POST ``body`` (JSON unless ``headers`` say otherwise) for ``seconds`` with ``connections`` connections and
    one wrk thread; a request unanswered after ``timeout`` seconds is an error."""
    with tempfile.TemporaryDirectory() as scratch:
        data, script = Path(scratch, "body.bin"), Path(scratch, "post.lua")
        data.write_bytes(body)
        lines = ['wrk.method = "POST"', f'local file = io.open({_lua_string(str(data))}, "rb")',
                 "wrk.body = file:read(\"*a\")", "file:close()"]
        lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}"
                  for k, v in (headers or {"Content-Type": "application/json"}).items()]
        script.write_text("\n".join(lines) + "\n")
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={math.ceil(timeout)}s", "--latency",
                   "-s", str(script), f"http://{HOST}:{port}{path}"]
        out = subprocess.run(_pinned(cores, command), capture_output=True, text=True, check=True,
                             timeout=seconds + timeout + 60).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    if rps is None or len(pct) != 2:
        raise RuntimeError(f"unparsable wrk output:\n{out}")
    problems = []
    if non_2xx := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        problems.append(f"{non_2xx.group(1)} non-2xx answers")
    if sockets := re.search(r"Socket errors: (.*)", out):
        problems.append(f"socket errors: {sockets.group(1)}")
    if float(rps.group(1)) == 0:
        problems.append("no request answered")
    return Run(float(rps.group(1)), _ms(pct["50"]), _ms(pct["99"]), problems)


def grpc_frame(message: bytes) -> bytes:
    """One uncompressed gRPC length-prefixed message."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def h2load(port: int, method: str, message: bytes, answer_size: int, seconds: int, connections: int,
           cores: str | None) -> Run:
    """Unary gRPC calls of ``method`` with ``message``; ``answer_size`` is the right answer's length."""
    with tempfile.TemporaryDirectory() as scratch:
        data, log = Path(scratch, "request.bin"), Path(scratch, "requests.log")
        data.write_bytes(grpc_frame(message))
        command = ["h2load", "-t1", f"-c{connections}", "-m1", f"-D{seconds}", "-d", str(data),
                   "-H", "content-type: application/grpc", "-H", "te: trailers", "--log-file", str(log),
                   f"http://{HOST}:{port}{method}"]
        out = subprocess.run(_pinned(cores, command), capture_output=True, text=True, check=True,
                             timeout=seconds + 60).stdout
        micros = sorted(int(line.split("\t")[2]) for line in log.read_text().splitlines() if line.strip())
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    counts = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                       r"(\d+) timeout", out)
    traffic = re.search(r"traffic: .*? \((\d+)\) data", out)
    if rps is not None and counts is not None and not micros:
        return Run(0.0, 0.0, 0.0, [f"no call answered in {seconds} s"])
    if rps is None or counts is None or traffic is None:
        raise RuntimeError(f"unparsable h2load output:\n{out[-1500:]}")
    done, succeeded, failed, errored, timeout = map(int, counts.groups())
    problems = [f"{n} {what}" for n, what in ((failed, "failed"), (errored, "errored"), (timeout, "timed out")) if n]
    # h2load sees HTTP status only; a gRPC error comes as status 200 with an empty body, so a
    # shortfall of answer bytes means some calls did not get the right answer.
    if int(traffic.group(1)) < succeeded * (answer_size + 5):
        problems.append(f"short answers: {traffic.group(1)} data bytes for {succeeded} calls of {answer_size + 5}")
    if done == 0:
        problems.append("no call completed")
    quantiles = statistics.quantiles(micros, n=100, method="inclusive") if len(micros) > 1 else micros * 99
    return Run(float(rps.group(1)), quantiles[49] / 1000, quantiles[98] / 1000, problems)


@dataclass
class Paced(Run):
    """A run at a fixed offered rate (``h2load_paced``)."""

    offered: float = 0.0
    connections: int = 0
    late_share: float = 0.0  # answers slower than the connection's send interval (their successor went late)


def pacing(rate: float) -> tuple[int, int]:
    """(connections, ms between connection starts) for ``rate`` requests/s, open loop.

    h2load's ``--rps`` gives each connection its own timer (one request every ``connections / rate``
    seconds); the connections' timers keep the phase of their start, which ``-r 1 --rate-period`` staggers
    in whole milliseconds.  Of 4 to 96 connections (a connection idles no more than 0.5 s, so it is not
    closed as idle) this picks the count and stagger whose phases spread most evenly over the interval
    (the largest gap between neighbouring phases, over the ideal gap, is smallest; ties: more
    connections, so that a slow answer holds back its connection's next request less often).
    """
    low = int(min(48, max(4, rate / 4)))
    high = int(max(low, min(96, rate / 2)))
    best: tuple[float, int, int] | None = None
    for connections in range(low, high + 1):
        interval = connections / rate * 1000  # ms between two requests of one connection
        for period in range(1, max(1, math.ceil(2 * interval / connections)) + 1):
            phases = sorted((k * period) % interval for k in range(connections))
            gaps = [b - a for a, b in itertools.pairwise(phases)] + [interval - phases[-1] + phases[0]]
            score = (round(max(gaps) / (interval / connections), 3), -connections, period)
            if best is None or score < best:
                best = score
    assert best is not None
    return -best[1], best[2]


def h2load_paced(port: int, path: str, body: bytes, rate: float, seconds: float, cores: str | None, *,
                 grpc: bool, answer_size: int = 0, headers: dict[str, str] | None = None) -> Paced:
    """``rate`` requests/s for about ``seconds`` (open loop: h2load ``--rps``), HTTP/1.1 JSON or unary gRPC.

    Latency is h2load's, from the moment a request is written to its answer.  A connection carries one
    request at a time, so a request is written late only when its connection's previous answer took longer
    than the connection's send interval: the share of such answers is ``late_share`` (above 1 %, the
    percentiles understate the tail: the run is flagged).  A run that could not send at the rate asked
    (the server fell behind and requests queued in h2load) is flagged too.
    """
    connections, period = pacing(rate)
    per_connection = rate / connections
    requests = max(connections, round(rate * seconds))
    with tempfile.TemporaryDirectory() as scratch:
        data, log = Path(scratch, "request.bin"), Path(scratch, "requests.log")
        data.write_bytes(grpc_frame(body) if grpc else body)
        sent = {"content-type": "application/grpc", "te": "trailers"} if grpc else (
            headers or {"content-type": "application/json"})
        options = [*([] if grpc else ["--h1"]), *(f for k, v in sent.items() for f in ("-H", f"{k}: {v}"))]
        command = ["h2load", "-t1", f"-c{connections}", "-m1", f"-n{requests}", f"--rps={per_connection:.3f}",
                   "-r1", f"--rate-period={period}ms", "-d", str(data), *options, "--log-file", str(log),
                   f"http://{HOST}:{port}{path}"]
        out = subprocess.run(_pinned(cores, command), capture_output=True, text=True, check=True,
                             timeout=seconds * 3 + 60).stdout
        lines = [line.split("\t") for line in log.read_text().splitlines() if line.strip()]
    counts = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                       r"(\d+) timeout", out)
    traffic = re.search(r"traffic: .*? \((\d+)\) data", out)
    if counts is None or traffic is None or not lines:
        raise RuntimeError(f"unparsable h2load output:\n{out}")
    done, succeeded, failed, errored, timeout = map(int, counts.groups())
    problems = [f"{n} {what}" for n, what in ((failed, "failed"), (errored, "errored"), (timeout, "timed out")) if n]
    if grpc and int(traffic.group(1)) < succeeded * (answer_size + 5):
        problems.append(f"short answers: {traffic.group(1)} data bytes for {succeeded} calls of {answer_size + 5}")
    starts = sorted(int(fields[0]) for fields in lines)
    micros = sorted(int(fields[2]) for fields in lines)
    interval_us = 1e6 / per_connection
    # the plan: connection k starts at k * period and sends its share (h2load gives the remainder of
    # requests / connections to the first ones) every interval; the last request of the plan leaves at
    share, extra = divmod(requests, connections)
    planned_us = max(k * period * 1000 + (share + (k < extra) - 1) * interval_us for k in range(connections))
    sent_us = starts[-1] - starts[0]
    achieved = rate * planned_us / sent_us if sent_us > 0 else 0.0
    if sent_us > planned_us * 1.03 + 5000:
        problems.append(f"rate not held: sent at {achieved:,.0f} req/s of {rate:,.0f}")
    late = sum(1 for m in micros if m > interval_us) / len(micros)
    if late > 0.01:
        problems.append(f"{late:.1%} of answers slower than a connection's interval ({interval_us / 1000:.1f} ms): "
                        "tail understated")
    if done == 0:
        problems.append("no call completed")
    quantiles = statistics.quantiles(micros, n=100, method="inclusive") if len(micros) > 1 else micros * 99
    return Paced(achieved, quantiles[49] / 1000, quantiles[98] / 1000, problems, rate, connections, late)
