"""Memory of a server holding a 500 MB model (bench/models/BigArrayModel.py), summed over its whole process tree.

For each server and number of REST workers: start it in its own session, wait for /health/ping, let the memory
settle, send a few dozen predictions, wait 3 s, then sum Rss and Pss from /proc/PID/smaps_rollup over the server
process and all its descendants.  modelserve loads the model before forking (workers share it copy-on-write);
``modelserve --load-in-worker`` and seldon-core load one copy per worker.

    python bench/memory.py [--servers modelserve,seldon-core] [--workers 1,4] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MODELS = BENCH / "models"
MODELSERVE = BENCH.parent / ".venv" / "bin" / "modelserve"
SELDON_VENV = BENCH / ".venvs" / "seldon-core"
SELDON_REQUIREMENT = "seldon-core==1.19.0"
PREDICT_BODY = b'{"data": {"ndarray": [[1,2]]}}'
MIB = 2**20
PARAGRAPH = (
    "Memory of a server whose model holds 500 MiB of numpy arrays (bench/models/BigArrayModel.py, filled with random"
    " data in load()), idle after /health/ping answered, its memory stopped moving, a few dozen predictions were"
    " served and 3 s passed. RSS and PSS are summed from /proc/PID/smaps_rollup over the server process and all its"
    " descendants (REST workers, and for seldon-core also its gunicorn metrics server and multiprocessing manager);"
    " PSS divides each shared page among the processes sharing it, so it is the memory the tree really costs, while"
    " RSS counts a shared page once per process. gRPC is off (0 workers) in both servers. modelserve loads the model"
    " before forking its workers; with --load-in-worker, and in seldon-core (gunicorn without preload), every"
    " worker loads its own copy. Measured with `python bench/memory.py --out bench/results/memory.md`."
)


@dataclass
class Row:
    server: str
    workers: int
    rss_mib: float
    pss_mib: float
    processes: int


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def proc_stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def live_pids() -> dict[int, list[str]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stats[int(entry)] = proc_stat(int(entry))
            except OSError:
                pass  # exited meanwhile
    return {pid: stat for pid, stat in stats.items() if stat[0] != "Z"}


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, stat in live_pids().items():
        children.setdefault(int(stat[1]), []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_memory(root: int) -> tuple[int, int, int]:
    """Total Rss and Pss in bytes, and number of processes, over ``root``'s process tree."""
    rss = pss = count = 0
    for pid in process_tree(root):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
        except OSError:
            continue
        rss += int(fields["Rss"].split()[0]) * 1024
        pss += int(fields["Pss"].split()[0]) * 1024
        count += 1
    return rss, pss, count


def http(method: str, url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return int(response.status)


def python312() -> str:
    """python3.12 from PATH, or one of pyenv's (its shim on PATH fails when 3.12 is not the active version)."""
    for candidate in ["python3.12", *sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.12*/bin/python3.12")))]:
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    raise RuntimeError("seldon-core 1.19.0 needs Python 3.12: none found on PATH or in ~/.pyenv/versions")


def seldon_microservice() -> Path:
    """seldon-core-microservice from bench/.venvs/seldon-core, created and installed if missing."""
    command = SELDON_VENV / "bin" / "seldon-core-microservice"
    if not command.exists():
        print(f"[memory] installing {SELDON_REQUIREMENT} into {SELDON_VENV}", file=sys.stderr, flush=True)
        subprocess.run([python312(), "-m", "venv", str(SELDON_VENV)], check=True)
        subprocess.run([str(SELDON_VENV / "bin" / "pip"), "install", "--quiet", SELDON_REQUIREMENT], check=True)
    return command


def command_for(server: str, workers: int, http_port: int, grpc_port: int, metrics_port: int) -> list[str]:
    ports = ["--http-port", str(http_port), "--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port)]
    if server == "seldon-core":
        return [str(seldon_microservice()), "BigArrayModel", "--service-type", "MODEL", *ports,
                "--workers", str(workers), "--grpc-workers", "0", "--log-level", "WARNING"]
    extra = ["--load-in-worker"] if server == "modelserve --load-in-worker" else []
    return [str(MODELSERVE), "serve", "BigArrayModel", "--host", "127.0.0.1", *ports, "--workers", str(workers),
            "--grpc-workers", "0", "--log-level", "WARNING", "--graceful-timeout", "5", *extra]


def wait_settled(root: int, timeout: float = 120.0) -> None:
    """Until the tree's Rss has not moved by more than 1 MiB for 3 s (workers that load late are done)."""
    history: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = [*history[-6:], tree_memory(root)[0]]
        if len(history) == 7 and max(history) - min(history) <= MIB:
            return
        time.sleep(0.5)
    raise RuntimeError(f"memory of the tree of {root} still moving after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the session's process group, SIGKILL it after ``timeout``; return once no process of it is left."""
    session = process.pid

    def left() -> list[int]:
        return [pid for pid, stat in live_pids().items() if session in (int(stat[2]), int(stat[3]))]

    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        for pid in {session, *left()}:  # the group, and any process of the session in another group
            try:
                if pid == session:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None and not left():
                return
            time.sleep(0.2)
        if sig == signal.SIGTERM:
            print(f"[memory] still running after SIGTERM: {left()}; SIGKILL", file=sys.stderr, flush=True)
    raise RuntimeError(f"processes of session {session} survived SIGKILL: {left()}")


def measure(server: str, workers: int) -> Row:
    http_port, grpc_port, metrics_port = free_ports(3)
    command = command_for(server, workers, http_port, grpc_port, metrics_port)
    environment = {**os.environ, "GUNICORN_WORKERS": str(workers), "GRPC_WORKERS": "0", "PYTHONUNBUFFERED": "1"}
    base = f"http://127.0.0.1:{http_port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=MODELS, env=environment, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"exited with {process.returncode}")
                try:
                    if http("GET", base + "/health/ping") == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("/health/ping did not answer 200 within 120 s")
                time.sleep(0.2)
            wait_settled(process.pid)
            for _ in range(max(32, 8 * workers)):  # each on a new connection: every worker gets its chance
                if (status := http("POST", base + "/api/v1.0/predictions", PREDICT_BODY)) != 200:
                    raise RuntimeError(f"predict answered {status}")
            time.sleep(3)
            rss, pss, count = tree_memory(process.pid)
        except Exception as error:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{server} with {workers} workers: {error}\n$ {' '.join(command)}\n{tail}") from error
        finally:
            stop(process)
    return Row(server, workers, rss / MIB, pss / MIB, count)


def table(rows: list[Row]) -> str:
    lines = ["| server | REST workers | total RSS (MiB) | total PSS (MiB) | processes |", "|---|--:|--:|--:|--:|"]
    lines += [f"| {r.server} | {r.workers} | {r.rss_mib:.0f} | {r.pss_mib:.0f} | {r.processes} |" for r in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    seldon = subprocess.run([str(SELDON_VENV / "bin" / "python"), "-VV"], capture_output=True, text=True, check=False)
    return (f"{os.cpu_count()} CPUs, {memory:.0f} GiB RAM, Linux {platform.release()}; modelserve on Python "
            f"{platform.python_version()}, seldon-core on {seldon.stdout.split()[1] if seldon.stdout else '?'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="modelserve,seldon-core", help="comma-separated: modelserve,seldon-core")
    parser.add_argument("--workers", default="1,4", help="comma-separated numbers of REST workers")
    parser.add_argument("--out", type=Path, help="also write the table (and the machine) to this Markdown file")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]
    runs: list[tuple[str, int]] = []
    for server in args.servers.split(","):
        if server not in ("modelserve", "seldon-core"):
            parser.error(f"unknown server {server!r}")
        runs += [(server, n) for n in workers]
        if server == "modelserve":
            runs += [("modelserve --load-in-worker", n) for n in workers if n > 1]
    rows = []
    for server, n in runs:
        started = time.monotonic()
        rows.append(measure(server, n))
        print(f"[memory] {server}, {n} workers: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    print(table(rows), end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"{PARAGRAPH} Machine: {machine()}.\n\n{table(rows)}")


if __name__ == "__main__":
    main()
