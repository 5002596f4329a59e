"""The parent process: start every worker, replace the dead ones, shut down in order.

Lifecycle:
1. bind the ports (so a busy port fails the start at once, and clients queue rather
   than being refused while the model loads);
2. build the user's object and, unless ``--load-in-worker``, run its ``load()`` here,
   so that every worker shares the model's memory copy-on-write;
3. fork ``--workers`` REST workers (sharing one listening socket) and
   ``--grpc-workers`` gRPC workers (each binding the gRPC port with SO_REUSEPORT);
4. supervise: a worker that dies is replaced, with a growing delay when it keeps
   dying young; one that failed to start (exit code 3) stops the server;
5. on SIGTERM or SIGINT: stop listening, ask every worker to drain (SIGTERM), wait up
   to ``--graceful-timeout``, kill what is left, exit 0 with every port free.

The supervisor also answers the metrics port, merging what every worker recorded.  It runs no threads and no event loop,
so forking a replacement worker at any time is safe.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from modelserve import logs
from modelserve.errors import StartupError
from modelserve.metrics import Exposition, MetricsMerger, make_directory, remove_directory
from modelserve.model import LoadedModel, build_model
from modelserve.pushgateway import SelectorPusher
from modelserve.settings import Settings
from modelserve.workers.board import LEAVING, NOT_SERVING, SERVING, WorkerBoard
from modelserve.workers.metrics_server import MetricsServer
from modelserve.workers.sockets import bind, close_to_new_connections

logger = logging.getLogger("modelserve.supervisor")

EXIT_STARTUP_FAILED = 3
# A worker that dies this many times in a row before serving (an import error, a crash in
# its start-up) stops the server, as a model that cannot load does.
MAX_STARTUP_CRASHES = 5
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR2)
_MIN_DELAY, _MAX_DELAY, _STABLE_AFTER = 0.1, 10.0, 10.0


@dataclass
class Slot:
    """One worker position (``rest-0``, ``grpc-1``, ...) and its current process."""

    kind: str
    index: int
    pid: int | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    generation: int = field(default=0)
    position: int = 0  # on the worker board
    startup_crashes: int = 0  # deaths in a row before serving

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index}"


WorkerTarget = Callable[["Supervisor", Slot], int]


class Supervisor:
    def __init__(self, settings: Settings):
        self.settings = settings
        # Every worker records into its own file here; the metrics port merges them.
        self.metrics_dir = make_directory()
        self.merger = MetricsMerger(self.metrics_dir)
        self.render_metrics: Callable[[str], tuple[bytes, str]] = Exposition(self.merger).render
        self.model: LoadedModel | None = None
        self.rest_socket: socket.socket | None = None
        self.grpc_reservation: socket.socket | None = None
        self.metrics: MetricsServer | None = None
        self.pusher: SelectorPusher | None = None
        self.slots: list[Slot] = []
        self.stopping = False
        self.exit_code = 0
        self._selector: selectors.BaseSelector | None = None
        self._wakeup: tuple[int, int] | None = None
        self._targets: dict[str, WorkerTarget] = {}
        self.board: WorkerBoard | None = None
        self.leaving: dict[int, Slot] = {}  # pid -> slot of workers draining after a recycle
        self.slot: Slot | None = None  # in a worker: its own slot

    # -- start

    def run(self, targets: dict[str, WorkerTarget]) -> int:
        try:
            self._start(targets)
            self._loop()
            if self.pusher is not None:
                self.pusher.push_final()  # the workers are gone: their final counts are in
        finally:
            self._cleanup()
        return self.exit_code

    def _start(self, targets: dict[str, WorkerTarget]) -> None:
        self._targets = targets
        settings = self.settings
        logs.set_worker("supervisor")
        self.rest_socket = bind(settings.host, settings.http_port)
        if settings.grpc_workers > 0:
            self.grpc_reservation = bind(settings.host, settings.grpc_port, listen=False)
        metrics_socket = bind(settings.host, settings.metrics_port)
        self.metrics = MetricsServer(
            metrics_socket,
            settings.metrics_endpoint,
            self.render_metrics,
            log_scrapes=settings.access_log and not settings.filter_metrics_logs,
        )
        if settings.pushgateway_enabled:
            self.pusher = SelectorPusher(settings, self.render_metrics)
        self.model = build_model(settings)
        if not settings.load_in_worker:
            self.model.load()
        self.slots = [Slot("rest", i) for i in range(settings.workers)]
        self.slots += [Slot("grpc", i) for i in range(settings.grpc_workers)]
        for position, slot in enumerate(self.slots):
            slot.position = position
        self.board = WorkerBoard([slot.kind for slot in self.slots])
        self._install_signals()
        logger.info(
            "serving %s: REST on %s:%d (%d workers), gRPC on %s:%d (%d workers), metrics on :%d%s",
            settings.interface_name, settings.host, settings.http_port, settings.workers, settings.host,
            settings.grpc_port, settings.grpc_workers, settings.metrics_port, settings.metrics_endpoint,
        )
        for slot in self.slots:
            self._spawn(slot)

    def _install_signals(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._wakeup = (read_fd, write_fd)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for signum in _HANDLED_SIGNALS:
            signal.signal(signum, _note_signal)
        self._selector = selectors.DefaultSelector()
        self._selector.register(read_fd, selectors.EVENT_READ, self._on_signals)
        assert self.metrics is not None
        self.metrics.register(self._selector)

    # -- workers

    def _spawn(self, slot: Slot) -> None:
        slot.generation += 1
        pid = os.fork()
        if pid == 0:
            os._exit(self._child(slot))
        slot.pid = pid
        slot.started = time.monotonic()
        slot.restart_at = None
        logger.info("started %s worker %s (pid %d)", slot.kind, slot.name, pid)

    def _child(self, slot: Slot) -> int:
        """In the forked worker: drop the parent's machinery, then serve."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in _HANDLED_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            if self._selector is not None:
                self._selector.close()
            if self._wakeup is not None:
                os.close(self._wakeup[0])
                os.close(self._wakeup[1])
            if self.metrics is not None:
                self.metrics.close()
            if self.pusher is not None:
                self.pusher.close_after_fork()
            logs.set_worker(slot.name)
            self.slot = slot
            if self.grpc_reservation is not None:
                self.grpc_reservation.close()
            if slot.kind != "rest" and self.rest_socket is not None:
                self.rest_socket.close()
            _die_with_parent()
            code = self._targets[slot.kind](self, slot)
        except StartupError as error:
            logger.error("worker %s cannot start: %s", slot.name, error)
            code = EXIT_STARTUP_FAILED
        except KeyboardInterrupt:
            code = 0
        except BaseException:  # reported, the parent replaces us
            logger.exception("worker %s crashed", slot.name)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        return code

    def peers_ready(self) -> bool:
        """In a worker: whether every kind of worker of the server has one serving."""
        return self.board is None or self.board.all_kinds_serving()

    def mark_serving(self) -> None:
        """In a worker: its transport is listening."""
        if self.board is not None and self.slot is not None:
            self.board.set(self.slot.position, SERVING)

    def leave(self) -> None:
        """In a worker that recycles itself: have the supervisor start its replacement now."""
        if self.board is not None and self.slot is not None:
            self.board.set(self.slot.position, LEAVING)
            os.kill(os.getppid(), signal.SIGUSR2)

    def max_requests_for_worker(self) -> int | None:
        settings = self.settings
        if settings.max_requests <= 0:
            return None
        return settings.max_requests + random.randint(0, settings.max_requests_jitter)

    # -- supervision loop

    def _loop(self) -> None:
        assert self._selector is not None and self.metrics is not None
        deadline: float | None = None
        while True:
            timeout = self._next_timeout(deadline)
            for key, _ in self._selector.select(timeout):
                key.data(self._selector)
            self.metrics.expire(self._selector)
            now = time.monotonic()
            if self.pusher is not None and not self.stopping:
                self.pusher.tick(self._selector, now)
            if self.stopping:
                if deadline is None:
                    deadline = now + self.settings.graceful_timeout + 1.0
                if not self._alive():
                    return
                if now >= deadline:
                    self._kill_all(signal.SIGKILL)
                    deadline = now + 5.0
                continue
            for slot in self.slots:
                if slot.pid is None and slot.restart_at is not None and now >= slot.restart_at:
                    self._spawn(slot)

    def _next_timeout(self, deadline: float | None) -> float:
        now = time.monotonic()
        waits = [1.0]
        if self.pusher is not None and not self.stopping:
            waits.append(self.pusher.wait(now))
        if deadline is not None:
            waits.append(max(0.0, deadline - now))
        waits += [max(0.0, s.restart_at - now) for s in self.slots if s.pid is None and s.restart_at is not None]
        return min(waits)

    def _on_signals(self, selector: selectors.BaseSelector) -> None:
        assert self._wakeup is not None
        try:
            data = os.read(self._wakeup[0], 512)
        except BlockingIOError:
            return
        for signum in data:
            if signum in (signal.SIGTERM, signal.SIGINT):
                self.stop(f"received {signal.Signals(signum).name}")
            elif signum == signal.SIGQUIT:
                self.stop("received SIGQUIT", fast=True)
            elif signum == signal.SIGUSR2:
                self._replace_leaving()
        self._reap()

    def _replace_leaving(self) -> None:
        """Workers that recycle themselves are replaced before they have drained (make before break)."""
        if self.board is None or self.stopping:
            return
        for slot in self.slots:
            if slot.pid is not None and self.board.state(slot.position) == LEAVING:
                logger.info("worker %s (pid %d) recycles: starting its replacement", slot.name, slot.pid)
                self.leaving[slot.pid] = slot
                self.board.set(slot.position, NOT_SERVING)
                slot.pid = None
                slot.failures = slot.startup_crashes = 0
                self._spawn(slot)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            left = self.leaving.pop(pid, None)
            if left is not None:
                self.merger.retire(pid)
                logger.info("worker %s (pid %d) drained and left (%s)", left.name, pid, _describe_status(status))
                continue
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is not None:
                self._worker_exited(slot, status)

    def _worker_exited(self, slot: Slot, status: int) -> None:
        if slot.pid is not None:
            self.merger.retire(slot.pid)
        slot.pid = None
        served = self.board is not None and self.board.state(slot.position) != NOT_SERVING
        if self.board is not None:
            self.board.set(slot.position, NOT_SERVING)
        code = os.waitstatus_to_exitcode(status)
        lived = time.monotonic() - slot.started
        if self.stopping:
            logger.info("worker %s stopped (%s)", slot.name, _describe(code))
            return
        if code == EXIT_STARTUP_FAILED:
            logger.error("worker %s failed to start; stopping the server", slot.name)
            self.exit_code = 1
            self.stop("a worker failed to start")
            return
        slot.startup_crashes = 0 if served else slot.startup_crashes + 1
        if slot.startup_crashes >= MAX_STARTUP_CRASHES:
            logger.error(
                "%s worker %s died %d times in a row before serving (%s): stopping the server; "
                "its log above says why",
                slot.kind, slot.name, slot.startup_crashes, _describe(code),
            )
            self.exit_code = 1
            self.stop(f"{slot.kind} workers cannot start")
            return
        if code == 0:
            slot.failures = 0  # a planned exit (--max-requests): replace it at once
            delay = 0.0
            logger.info("worker %s exited after serving its requests; replacing it", slot.name)
        else:
            slot.failures = 1 if lived >= _STABLE_AFTER else slot.failures + 1
            delay = min(_MAX_DELAY, _MIN_DELAY * 2 ** (slot.failures - 1))
            logger.warning("worker %s died (%s) after %.1fs; restarting in %.1fs", slot.name, _describe(code),
                           lived, delay)
        slot.restart_at = time.monotonic() + delay

    def _pids(self) -> list[int]:
        return [slot.pid for slot in self.slots if slot.pid is not None] + list(self.leaving)

    def _alive(self) -> bool:
        return bool(self._pids())

    # -- stop

    def stop(self, why: str, fast: bool = False) -> None:
        if self.stopping and not fast:
            return
        if not self.stopping:
            logger.info("shutting down: %s; draining for up to %.0fs", why, self.settings.graceful_timeout)
        self.stopping = True
        # No new connection may enter the accept queue, but the queued ones stay for the
        # workers to answer (they stop listening once it is empty); the supervisor's copy
        # of the socket closes now, the workers' as they drain.
        if self.rest_socket is not None:
            if not fast and not close_to_new_connections(self.rest_socket):
                logger.warning("cannot close the accept queue to new connections: queued ones may be reset")
            self.rest_socket.close()
            self.rest_socket = None
        if self.grpc_reservation is not None:
            self.grpc_reservation.close()
            self.grpc_reservation = None
        self._kill_all(signal.SIGKILL if fast else signal.SIGTERM)

    def _kill_all(self, signum: int) -> None:
        for pid in self._pids():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _cleanup(self) -> None:
        self._kill_all(signal.SIGKILL)
        for pid in list(self.leaving):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.merger.retire(pid)
        self.leaving.clear()
        for slot in self.slots:
            if slot.pid is not None:
                try:
                    os.waitpid(slot.pid, 0)
                except ChildProcessError:
                    pass
                self.merger.retire(slot.pid)
                slot.pid = None
        if self.metrics is not None:
            self.metrics.close(self._selector)
        for sock in (self.rest_socket, self.grpc_reservation):
            if sock is not None:
                sock.close()
        signal.set_wakeup_fd(-1)
        if self._selector is not None:
            self._selector.close()
        if self._wakeup is not None:
            os.close(self._wakeup[0])
            os.close(self._wakeup[1])
        for signum in _HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if self.board is not None:
            self.board.close()
        remove_directory(self.metrics_dir)


def _note_signal(signum: int, frame: object) -> None:
    """Signals are read from the wakeup pipe by the loop; the handler does nothing."""


def _describe_status(status: int) -> str:
    return _describe(os.waitstatus_to_exitcode(status))


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> None:
    """Ask Linux to send us SIGTERM if the supervisor dies (no orphaned workers)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as error:
        if getattr(error, "errno", None) not in (None, errno.EINVAL):
            logger.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", error)
