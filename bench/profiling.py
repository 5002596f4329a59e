"""``make profile``: py-spy on modelserve's hot path while the load runs, for W1 and W3, REST and gRPC.

    python -m bench.profiling [--seconds 8]

Writes ``bench/results/profile-<workload>-<protocol>.speedscope.json`` (open it at speedscope)
and prints, per run, the frames that take most samples (by self time and including callees).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench import load
from bench.protocols import PROTOCOLS
from bench.report import RESULTS
from bench.servers import MODELSERVE, Launch, Running
from bench.workloads import WORKLOADS

PY_SPY = Path(sys.executable).parent / "py-spy"


def summary(speedscope: Path, top: int = 12) -> list[str]:
    """The top frames of a py-spy speedscope file: by own time, and including callees (below the common trunk)."""
    data = json.loads(speedscope.read_text())
    frames = [f"{f['name']} ({Path(f.get('file') or '?').name}:{f.get('line', '?')})" for f in data["shared"]["frames"]]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    seconds = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            names = [frames[i] for i in stack if not frames[i].startswith("process ")]
            seconds += weight
            if names:
                own[names[-1]] += weight
            for name in set(names):
                total[name] += weight
    below_trunk = [(name, n) for name, n in total.most_common() if n < 0.9 * seconds][:top]
    lines = [f"{seconds:.1f} s of samples (all processes)", "  self%  frame"]
    lines += [f"  {100 * n / seconds:5.1f}  {name}" for name, n in own.most_common(top)]
    lines += ["  total%  frame (frames under 90%, i.e. below the event loop's trunk)"]
    lines += [f"  {100 * n / seconds:5.1f}  {name}" for name, n in below_trunk]
    return lines


def profile(workload_name: str, protocol: str, seconds: int) -> list[str]:
    workload = WORKLOADS[workload_name]
    out = RESULTS / f"profile-{workload_name}-{protocol}.speedscope.json"
    with tempfile.TemporaryDirectory() as scratch:
        server = Running(MODELSERVE, Launch(workload, 1, MODELSERVE.bin(), Path(scratch)), "0")
        try:
            if problem := server.check(protocol):
                return [f"{workload_name} {protocol}: not profiled, {problem}"]
            port, proto = server.launch.port(protocol), PROTOCOLS[protocol]
            body = proto.request(workload)
            if proto.transport == "grpc":
                size = server.answer_sizes[protocol]
                loader = threading.Thread(target=load.h2load,
                                          args=(port, proto.path(workload), body, size, seconds + 2, 16, "1"))
            else:
                loader = threading.Thread(target=load.wrk,
                                          args=(port, proto.path(workload), body, seconds + 2, 16, "1"))
            loader.start()
            subprocess.run([str(PY_SPY), "record", "--pid", str(server.proc.pid), "--subprocesses", "--duration",
                            str(seconds), "--format", "speedscope", "--output", str(out), "--nonblocking"],
                           check=True, capture_output=True)
            loader.join()
        finally:
            server.stop()
    return [f"## {workload_name} {protocol} ({out.relative_to(RESULTS.parent.parent)})", *summary(out)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    text: list[str] = []
    for workload in ("W1", "W3"):
        for protocol in MODELSERVE.protocols:
            text += [*profile(workload, protocol, args.seconds), ""]
    print("\n".join(text))
    (RESULTS / "profile-summary.txt").write_text("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
