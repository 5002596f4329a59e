"""What a build shows: its steps, pip's output and the time taken on a terminal; only
warnings and errors when not on a terminal or in CI (``CI`` set)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def wanted(stream: TextIO) -> bool:
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return stream.isatty() and not ci


class CommandFailed(Exception):
    def __init__(self, command: Sequence[str], returncode: int, output: list[str]):
        super().__init__(f"{command[0]} exited with status {returncode}")
        self.command = list(command)
        self.returncode = returncode
        self.output = output


class Progress:
    def __init__(self, stream: TextIO | None = None, verbose: bool | None = None):
        self.stream = stream or sys.stderr
        self.verbose = wanted(self.stream) if verbose is None else verbose
        self.started = time.monotonic()
        self.steps = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=self.stream, flush=True)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        self.steps += 1
        began = time.monotonic()
        self.say(f"==> {text}")
        yield
        self.say(f"    {time.monotonic() - began:.1f} s (total {self.elapsed():.1f} s)")

    def run(
        self,
        command: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        keep: int = 400,
    ) -> list[str]:
        """Run a command; its output goes to the terminal when verbose, and is kept for errors."""
        lines: deque[str] = deque(maxlen=keep)
        with subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if self.verbose:
                    self.stream.write("    " + line)
                    self.stream.flush()
            returncode = process.wait()
        if returncode != 0:
            raise CommandFailed(command, returncode, list(lines))
        return list(lines)
