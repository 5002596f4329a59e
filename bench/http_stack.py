#!/usr/bin/env python3
"""Measure an ASGI/RSGI app behind a given HTTP server stack with wrk.

The server runs with one worker, pinned to CPU core 0 (``taskset -c 0``);
wrk runs pinned to core 1 (``taskset -c 1 wrk -t1 -c16 ...``).  Procedure:

1. pick a free port on 127.0.0.1 and start the server in its own session
   (process group),
2. poll until it answers, then check one response (status and body),
3. one wrk warm-up run (not reported), then ``--reps`` measured runs,
4. report the median requests/s and p50/p99 latency; flag any non-2xx/3xx
   responses or socket errors that wrk reports,
5. kill the server's process group.

Single run::

    python bench/http_stack.py --app bench.bare_apps:bare_asgi --stack uvicorn \\
        --method POST --path /predict --body '{"data":{"ndarray":[[1,2,3,4]]}}' \\
        --content-type application/json --expect-status 200 --duration 10 --reps 3 --cwd .

Matrix (built-in bare-ceiling set, or ``--matrix-file combos.json``)::

    python bench/http_stack.py --matrix --duration 10 --reps 3 --cwd .

A matrix file is a JSON list of objects with keys ``label``, ``app``,
``stack`` and optionally ``path``, ``body``, ``method``, ``content_type``,
``factory``, ``expect_status``, ``expect_body``, ``cwd``, ``server_args``; missing keys fall
back to the command-line values.

Only ever targets 127.0.0.1.  Stdlib only (plus the server packages in the
virtualenv and the ``wrk`` and ``taskset`` binaries).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
STACKS = ("uvicorn", "granian-asgi", "granian-rsgi")
SERVER_CORE = "0"
CLIENT_CORE = "1"

BARE_BODY = '{"data":{"names":[],"ndarray":[[1,2,3,4]]},"meta":{}}'
DEFAULT_REQ_BODY = '{"data":{"ndarray":[[1,2,3,4]]}}'

# Built-in matrix: the bare ceiling of each stack.
DEFAULT_MATRIX = [
    {
        "label": "uvicorn (httptools+uvloop), bare ASGI",
        "app": "bench.bare_apps:bare_asgi",
        "stack": "uvicorn",
        "expect_body": BARE_BODY,
    },
    {
        "label": "granian ASGI, bare",
        "app": "bench.bare_apps:bare_asgi",
        "stack": "granian-asgi",
        "expect_body": BARE_BODY,
    },
    {
        "label": "granian RSGI, bare",
        "app": "bench.bare_apps:bare_rsgi",
        "stack": "granian-rsgi",
        "expect_body": BARE_BODY,
    },
]


def log(msg: str) -> None:
    print(f"[http_stack] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers


def default_python() -> str:
    """The repo's virtualenv interpreter if present, else the current one."""
    repo = Path(__file__).resolve().parent.parent
    venv_py = repo / ".venv" / "bin" / "python"
    return str(venv_py) if venv_py.exists() else sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def granian_supports_uvloop(python: str) -> bool:
    """True if the installed granian accepts --loop uvloop and uvloop imports."""
    code = (
        "import uvloop\n"
        "from granian.constants import Loops\n"
        "from granian._loops import loops\n"
        "assert 'uvloop' in Loops.__members__ and 'uvloop' in loops\n"
    )
    return subprocess.run([python, "-c", code], check=False, capture_output=True).returncode == 0


def server_command(
    stack: str,
    app: str,
    port: int,
    python: str,
    factory: bool,
    cwd: str,
    extra: list[str] | None = None,
) -> list[str]:
    """Server command line; ``extra`` args go before the app target (granian) / after it (uvicorn)."""
    extra = list(extra or [])
    pin = ["taskset", "-c", SERVER_CORE]
    if stack == "uvicorn":
        cmd = [
            python,
            "-m",
            "uvicorn",
            app,
            "--host",
            HOST,
            "--port",
            str(port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--app-dir",
            cwd,
        ]
        if factory:
            cmd.append("--factory")
        return pin + cmd + extra
    if stack in ("granian-asgi", "granian-rsgi"):
        iface = "asgi" if stack == "granian-asgi" else "rsgi"
        cmd = [
            python,
            "-m",
            "granian",
            "--interface",
            iface,
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--blocking-threads",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "--working-dir",
            cwd,
        ]
        if granian_supports_uvloop(python):
            cmd += ["--loop", "uvloop"]
        else:
            log("granian: uvloop not supported here, using its default loop")
        if factory:
            cmd.append("--factory")
        cmd += extra
        cmd.append(app)
        return pin + cmd
    raise ValueError(f"unknown stack {stack!r}")


def lua_long_string(s: str) -> str:
    level = 0
    while f"]{'=' * level}]" in s:
        level += 1
    eq = "=" * level
    # A newline right after the opening bracket is skipped by Lua; guard against
    # bodies starting with a newline by always adding one.
    return f"[{eq}[\n{s}]{eq}]"


def write_lua(method: str, body: str | None, content_type: str | None) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {lua_long_string(body)}")
    if content_type:
        lines.append(f'wrk.headers["Content-Type"] = "{content_type}"')
    fd, path = tempfile.mkstemp(prefix="http_stack_", suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def one_request(
    port: int,
    method: str,
    path: str,
    body: str | None,
    content_type: str | None,
    timeout: float = 2.0,
) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(
            method,
            path,
            body=body.encode() if body is not None else None,
            headers=headers,
        )
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def bodies_match(got: bytes, expected: str) -> bool:
    if got == expected.encode():
        return True
    try:
        return json.loads(got) == json.loads(expected)
    except ValueError:
        return False


# --------------------------------------------------------------------------- wrk parsing

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(tok: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", tok.strip())
    if not m:
        raise ValueError(f"cannot parse latency {tok!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass
class WrkRun:
    rps: float
    p50_ms: float
    p90_ms: float | None
    p99_ms: float
    requests: int
    non_2xx_3xx: int = 0
    socket_errors: dict = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        out = []
        if self.non_2xx_3xx:
            out.append(f"{self.non_2xx_3xx} non-2xx/3xx responses")
        errs = {k: v for k, v in self.socket_errors.items() if v}
        if errs:
            out.append("socket errors " + ", ".join(f"{k}={v}" for k, v in errs.items()))
        return out


def parse_wrk(out: str) -> WrkRun:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    if not rps:
        raise ValueError("wrk output has no Requests/sec line:\n" + out)
    pct = {m.group(1): to_ms(m.group(2)) for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE)}
    if "50" not in pct or "99" not in pct:
        raise ValueError("wrk output has no latency distribution (need --latency):\n" + out)
    nreq = re.search(r"^\s+(\d+) requests in", out, re.MULTILINE)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = {}
    if sock:
        socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True))
    return WrkRun(
        rps=float(rps.group(1)),
        p50_ms=pct["50"],
        p90_ms=pct.get("90"),
        p99_ms=pct["99"],
        requests=int(nreq.group(1)) if nreq else 0,
        non_2xx_3xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=socket_errors,
    )


def wrk_command(port: int, path: str, duration: int, script: str, threads: int, conns: int) -> list[str]:
    return [
        "taskset",
        "-c",
        CLIENT_CORE,
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration}s",
        "--latency",
        "-s",
        script,
        f"http://{HOST}:{port}{path}",
    ]


def run_wrk(cmd: list[str], duration: int) -> tuple[WrkRun, str]:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=duration + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr}\n{proc.stdout}")
    return parse_wrk(proc.stdout), proc.stdout


# --------------------------------------------------------------------------- server process


def core_busy_seconds(core: str) -> float:
    """Busy (non-idle, non-iowait) seconds of one CPU core from /proc/stat."""
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal ...
                return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck
    return 0.0


def group_cpu_seconds(pgid: int) -> float:
    """utime+stime (s) of all live processes in a process group (incl. threads)."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[0] is state (field 3); pgrp is field 5, utime 14, stime 15.
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tck


class Server:
    def __init__(self, cmd: list[str], cwd: str, log_path: str):
        self.cmd = cmd
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )

    @property
    def pgid(self) -> int:
        return self.popen.pid  # session leader => pgid == pid

    @property
    def popen(self) -> subprocess.Popen:
        assert self.proc is not None, "server not started"
        return self.proc

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_ready(
        self,
        port: int,
        method: str,
        path: str,
        body: str | None,
        ctype: str | None,
        timeout: float = 30.0,
    ) -> tuple[int, bytes, dict]:
        deadline = time.monotonic() + timeout
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"server exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                return one_request(port, method, path, body, ctype)
            except (OSError, http.client.HTTPException) as e:
                last_err = e
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout}s ({last_err}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        # Make sure nothing of the group survives (e.g. a granian worker).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"warning: server pid {self.proc.pid} did not exit")
        self._log.close()


# --------------------------------------------------------------------------- one benchmark


@dataclass
class Combo:
    label: str
    app: str
    stack: str
    path: str = "/predict"
    body: str | None = DEFAULT_REQ_BODY
    method: str = "POST"
    content_type: str | None = "application/json"
    factory: bool = False
    expect_status: int = 200
    expect_body: str | None = None
    cwd: str = "."
    server_args: str = ""  # extra server CLI args (shell-quoted string)


def bench_combo(
    c: Combo,
    *,
    duration: int,
    warmup: int,
    reps: int,
    python: str,
    threads: int,
    conns: int,
    keep_logs: bool,
) -> dict:
    if c.stack not in STACKS:
        raise ValueError(f"stack must be one of {STACKS}")
    cwd = str(Path(c.cwd).resolve())
    port = free_port()
    cmd = server_command(c.stack, c.app, port, python, c.factory, cwd, shlex.split(c.server_args))
    log_fd, log_path = tempfile.mkstemp(prefix=f"http_stack_{c.stack}_", suffix=".log")
    os.close(log_fd)
    req_body = c.body if c.method not in ("GET", "HEAD") else None
    script = write_lua(c.method, req_body, c.content_type)
    server = Server(cmd, cwd, log_path)
    result: dict = {
        "label": c.label,
        "app": c.app,
        "stack": c.stack,
        "method": c.method,
        "path": c.path,
        "server_cmd": " ".join(cmd),
        "problems": [],
    }
    log(f"{c.label}: starting {' '.join(cmd)}")
    try:
        server.start()
        status, data, headers = server.wait_ready(port, c.method, c.path, req_body, c.content_type)
        result["check"] = {
            "status": status,
            "body": data.decode(errors="replace")[:500],
            "content_type": headers.get("content-type"),
        }
        if status != c.expect_status:
            raise RuntimeError(f"check failed: status {status} != {c.expect_status}; body={data[:300]!r}")
        if c.expect_body is not None and not bodies_match(data, c.expect_body):
            raise RuntimeError(f"check failed: body {data[:300]!r} != expected {c.expect_body[:300]!r}")
        log(f"{c.label}: check OK (status {status}, {len(data)} bytes)")

        wcmd = wrk_command(port, c.path, warmup, script, threads, conns)
        log(f"{c.label}: warm-up {warmup}s")
        warm, _ = run_wrk(wcmd, warmup)
        result["warmup"] = asdict(warm)
        if warm.problems:
            result["problems"].append("warm-up: " + "; ".join(warm.problems))

        wcmd = wrk_command(port, c.path, duration, script, threads, conns)
        result["wrk_cmd"] = " ".join(wcmd)
        runs = []
        for i in range(reps):
            cpu0, core0, t0 = (
                group_cpu_seconds(server.pgid),
                core_busy_seconds(SERVER_CORE),
                time.monotonic(),
            )
            run, _raw = run_wrk(wcmd, duration)
            cpu1, core1, t1 = (
                group_cpu_seconds(server.pgid),
                core_busy_seconds(SERVER_CORE),
                time.monotonic(),
            )
            rd = asdict(run)
            rd["server_cpu_pct"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 1)
            # Busy time on the server core not accounted to the server (other
            # processes, IRQs): a high value means the run was disturbed.
            rd["core0_other_pct"] = round(100 * ((core1 - core0) - (cpu1 - cpu0)) / (t1 - t0), 1)
            runs.append(rd)
            log(
                f"{c.label}: rep {i + 1}/{reps}: {run.rps:.0f} req/s, p50 {run.p50_ms:.3f} ms, "
                f"p99 {run.p99_ms:.3f} ms, server CPU {rd['server_cpu_pct']}%, "
                f"other busy on core {SERVER_CORE}: {rd['core0_other_pct']}%"
                + (f"  !! {'; '.join(run.problems)}" if run.problems else "")
            )
            if run.problems:
                result["problems"].append(f"rep {i + 1}: " + "; ".join(run.problems))
            if server.popen.poll() is not None:
                raise RuntimeError(f"server died during the run:\n{server.log_tail()}")
        result["runs"] = runs
        result["rps_median"] = statistics.median(r["rps"] for r in runs)
        result["p50_ms_median"] = statistics.median(r["p50_ms"] for r in runs)
        result["p99_ms_median"] = statistics.median(r["p99_ms"] for r in runs)
        result["rps_min"] = min(r["rps"] for r in runs)
        result["rps_max"] = max(r["rps"] for r in runs)
        result["core0_other_pct_max"] = max(r["core0_other_pct"] for r in runs)
        if result["core0_other_pct_max"] > 5:
            result["warnings"] = [
                (
                    f"up to {result['core0_other_pct_max']}% of core {SERVER_CORE} was busy "
                    "with something other than the server: figures may be disturbed"
                )
            ]
            log(f"{c.label}: WARNING {result['warnings'][0]}")
        result["server_cpu_pct_median"] = statistics.median(r["server_cpu_pct"] for r in runs)
        tail = server.log_tail(10).strip()
        if tail:
            result["server_log_tail"] = tail
    except Exception as e:  # report and carry on (matrix mode)
        result["error"] = str(e)
        log(f"{c.label}: ERROR {e}")
    finally:
        server.stop()
        os.unlink(script)
        if keep_logs:
            result["server_log"] = log_path
        else:
            os.unlink(log_path)
    return result


def result_line(r: dict) -> str:
    if "error" in r:
        return f"RESULT {r['label']}: ERROR {r['error'].splitlines()[0]}"
    flag = "OK" if not r["problems"] else "PROBLEMS: " + " | ".join(r["problems"])
    return (
        f"RESULT {r['label']}: {r['rps_median']:.0f} req/s (median of {len(r['runs'])}; "
        f"min {r['rps_min']:.0f}, max {r['rps_max']:.0f}), p50 {r['p50_ms_median']:.3f} ms, "
        f"p99 {r['p99_ms_median']:.3f} ms, server CPU {r['server_cpu_pct_median']}% -- {flag}"
    )


def markdown_table(results: list[dict]) -> str:
    rows = [
        "| stack | req/s (median) | p50 (ms) | p99 (ms) | req/s min-max | server CPU | problems |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['label']} | - | - | - | - | - | ERROR: {r['error'].splitlines()[0]} |")
            continue
        rows.append(
            f"| {r['label']} | {r['rps_median']:,.0f} | {r['p50_ms_median']:.3f} | {r['p99_ms_median']:.3f} "
            f"| {r['rps_min']:,.0f}-{r['rps_max']:,.0f} | {r['server_cpu_pct_median']:.0f}% "
            f"| {'; '.join(r['problems']) or 'none'} |"
        )
    return "\n".join(rows)


# --------------------------------------------------------------------------- CLI


def preflight() -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found in PATH (apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'})")
    if (os.cpu_count() or 1) < 2:
        sys.exit("need at least 2 CPU cores (server on core 0, wrk on core 1)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app", help="MODULE:ATTR of the ASGI (or RSGI) app")
    p.add_argument("--factory", action="store_true", help="ATTR is a factory returning the app")
    p.add_argument("--stack", choices=STACKS)
    p.add_argument("--label", help="label for the result line (default: stack + app)")
    p.add_argument("--method", default="POST")
    p.add_argument("--path", default="/predict")
    p.add_argument("--body", default=DEFAULT_REQ_BODY, help="request body (ignored for GET/HEAD)")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--expect-status", type=int, default=200)
    p.add_argument(
        "--expect-body",
        default=None,
        help="expected response body (exact bytes or equal JSON); default: not checked",
    )
    p.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    p.add_argument("--warmup", type=int, default=5, help="seconds of the warm-up wrk run")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="wrk -t")
    p.add_argument("--connections", type=int, default=16, help="wrk -c")
    p.add_argument("--cwd", default=".", help="directory the app is imported from")
    p.add_argument("--python", default=default_python(), help="interpreter that runs the server")
    p.add_argument(
        "--server-args",
        default="",
        help="extra server CLI args, e.g. '--runtime-mode st' (appended to the fixed ones)",
    )
    p.add_argument(
        "--matrix",
        action="store_true",
        help="run a list of combos, print a markdown table",
    )
    p.add_argument(
        "--matrix-file",
        help="JSON list of combos for --matrix (default: built-in bare set)",
    )
    p.add_argument("--json-out", help="also write the JSON summary to this file")
    p.add_argument("--keep-logs", action="store_true", help="keep server logs (paths in the JSON)")
    a = p.parse_args(argv)
    preflight()

    base = {
        "path": a.path,
        "body": a.body,
        "method": a.method.upper(),
        "content_type": a.content_type or None,
        "factory": a.factory,
        "expect_status": a.expect_status,
        "expect_body": a.expect_body,
        "cwd": a.cwd,
        "server_args": a.server_args,
    }
    if a.matrix:
        specs = json.loads(Path(a.matrix_file).read_text()) if a.matrix_file else DEFAULT_MATRIX
        combos = [Combo(**{**base, **s}) for s in specs]
    else:
        if not a.app or not a.stack:
            p.error("--app and --stack are required unless --matrix is given")
        combos = [Combo(label=a.label or f"{a.stack} {a.app}", app=a.app, stack=a.stack, **base)]

    kw = {
        "duration": a.duration,
        "warmup": a.warmup,
        "reps": a.reps,
        "python": a.python,
        "threads": a.threads,
        "conns": a.connections,
        "keep_logs": a.keep_logs,
    }
    results = []
    for c in combos:
        r = bench_combo(c, **kw)
        results.append(r)
        print(result_line(r), flush=True)

    summary = {
        "machine": machine_info(a.python),
        "settings": {
            "duration_s": a.duration,
            "warmup_s": a.warmup,
            "reps": a.reps,
            "wrk": f"taskset -c {CLIENT_CORE} wrk -t{a.threads} -c{a.connections} -d{a.duration}s --latency -s <lua>",
            "server_pinning": f"taskset -c {SERVER_CORE}",
        },
        "results": results,
    }
    if a.matrix:
        print()
        print(markdown_table(results))
        print()
    print(json.dumps(summary, indent=2))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(summary, indent=2) + "\n")
    bad = any("error" in r or r["problems"] for r in results)
    return 1 if bad else 0


def machine_info(python: str) -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("uvicorn", "granian", "uvloop", "httptools"):
        try:
            out = subprocess.run(
                [python, "-c", f"import {mod};print({mod}.__version__)"],
                check=False,
                capture_output=True,
                text=True,
            )
            versions[mod] = out.stdout.strip() or None
        except OSError:
            versions[mod] = None
    wrk_v = subprocess.run(["wrk", "-v"], check=False, capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": subprocess.run(
            [python, "-c", "import sys;print(sys.version.split()[0])"],
            check=False,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "versions": versions,
        "wrk": (wrk_v.stdout or wrk_v.stderr).splitlines()[0] if (wrk_v.stdout or wrk_v.stderr) else None,
    }


if __name__ == "__main__":
    sys.exit(main())
