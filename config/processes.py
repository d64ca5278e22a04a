"""The hub's processes on one machine: several daphne on one port, a Celery worker, beat.

The port is bound once, here, and the listening socket handed to every daphne
(`--fd`): the kernel gives each new connection to whichever process accepts it,
and the port keeps accepting (connections wait in its backlog) while a child that
died is started again. Each daphne has its own fan-out and registry entry; Redis
carries events between them. All of them write their metrics into one directory
(PROMETHEUS_MULTIPROC_DIR), so `/metrics` on any one reports the sum.
"""

import ipaddress
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from django.conf import settings
from prometheus_client import multiprocess

from config.network import port_is_free

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15
# A child that dies sooner than this after its start failed to start: it is started
# again after a growing pause, and after this many such failures in a row the hub stops.
QUICK_EXIT_SECONDS = 10
QUICK_EXITS_BEFORE_GIVING_UP = 5
LISTEN_BACKLOG = 1024
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class PortTaken(Exception):
    """Another process listens on the port already."""


def server_process_count(requested: int | None) -> int:
    """How many daphne processes to run: asked for, or SERVER_PROCESSES; one without Redis."""
    count = max(1, settings.SERVER_PROCESSES if requested is None else requested)
    if count > 1 and not settings.REDIS_URL:
        logger.warning(
            "Serving with 1 process, not %d: without REDIS_URL the channel layer is "
            "in-process and cannot carry events from one server process to another",
            count,
        )
        return 1
    return count


@dataclass
class Listener:
    """Where daphne listens: a socket bound here (shared by every child), or, for IPv6,
    daphne's own bind (its `--fd` takes IPv4 sockets only), which allows one process."""

    host: str
    port: int
    sock: socket.socket | None

    @classmethod
    def open(cls, host: str, port: int, processes: int) -> tuple["Listener", int]:
        """Bind the port; returns the listener and how many processes it can serve."""
        if ":" in host:
            if not port_is_free(host, port):
                raise PortTaken
            if processes > 1:
                logger.warning("Serving with 1 process on IPv6 %s: bind 0.0.0.0 for more", host)
            return cls(host, port, None), 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(LISTEN_BACKLOG)
        except OSError as exc:
            sock.close()
            raise PortTaken from exc
        sock.set_inheritable(True)
        return cls(host, sock.getsockname()[1], sock), processes

    def daphne_arguments(self) -> list[str]:
        if self.sock is None:
            return ["--bind", self.host, "--port", str(self.port)]
        return ["--fd", str(self.sock.fileno())]

    def answers(self, timeout: float = 0.5) -> bool:
        """Whether a daphne answers HTTP here yet (the socket accepts before any does)."""
        address = self.host.strip("[]")
        if _unspecified(address):  # listening on every interface: ask over loopback
            address = "::1" if ":" in address else "127.0.0.1"
        request = f"GET /healthz HTTP/1.0\r\nHost: {_probe_host()}\r\n\r\n".encode()
        try:
            with socket.create_connection((address, self.port), timeout) as probe:
                probe.sendall(request)
                return bool(probe.recv(1))
        except OSError:
            return False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a name
        return False


def _probe_host() -> str:
    """A Host header Django accepts, so the readiness probe logs no DisallowedHost."""
    for name in settings.ALLOWED_HOSTS:
        name = name.lstrip(".")
        if name and name != "*":
            return name
    return "localhost"


def metrics_directory(port: int) -> Path:
    """Where this run's processes write their metrics, emptied now: a run starts at zero.

    PROMETHEUS_MULTIPROC_DIR if set, else one folder per port under DATA_DIR (one
    hub per port at a time, so no other run is using it).
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(given) if given else Path(settings.DATA_DIR) / "metrics" / f"port-{port}"
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


@dataclass
class Child:
    """One process of the hub, as started and, if it dies, started again."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    start_at: float = 0.0  # when a child that died is due to start again


class GaveUp(Exception):
    """A child kept dying at start: the hub stops rather than loop."""


class Supervisor:
    """Starts the children, starts again one that dies, and stops them all on a signal."""

    def __init__(
        self,
        children: list[Child],
        *,
        metrics_dir: Path,
        pass_fds: tuple[int, ...],
        give_up_after: int = QUICK_EXITS_BEFORE_GIVING_UP,
    ):
        self.children = children
        self.metrics_dir = metrics_dir
        self.pass_fds = pass_fds
        self.give_up_after = give_up_after
        self.env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.stopping = False

    def run(self, ready: Callable[[], bool], announce: Callable[[], None]) -> None:
        """Supervise until SIGINT or SIGTERM (then stop every child gracefully)."""
        previous = {signum: signal.signal(signum, self._stop) for signum in STOP_SIGNALS}
        announced = False
        try:
            while not self.stopping:
                self._tend(time.monotonic())
                if not announced and ready():
                    announce()
                    announced = True
                time.sleep(0.2)
        finally:
            self.stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _tend(self, now: float) -> None:
        for child in self.children:
            if child.process is None:
                if now >= child.start_at:
                    self._start(child, now)
                continue
            code = child.process.poll()
            if code is not None and not self.stopping:
                self._died(child, code, now)

    def _start(self, child: Child, now: float) -> None:
        child.process = subprocess.Popen(child.command, env=self.env, pass_fds=self.pass_fds)
        child.started_at = now

    def _died(self, child: Child, code: int, now: float) -> None:
        assert child.process is not None
        pid, child.process = child.process.pid, None
        multiprocess.mark_process_dead(pid, str(self.metrics_dir))
        quick = now - child.started_at < QUICK_EXIT_SECONDS
        child.quick_exits = child.quick_exits + 1 if quick else 0
        if child.quick_exits >= self.give_up_after:
            raise GaveUp(
                f"{child.name} stopped {child.quick_exits} times in a row within "
                f"{QUICK_EXIT_SECONDS} s of starting (last: {exit_description(code)})"
            )
        pause = min(8.0, 0.5 * 2 ** (child.quick_exits - 1)) if quick else 0.0
        child.start_at = now + pause
        logger.error(
            "%s (pid %d) stopped unexpectedly (%s); starting it again%s",
            child.name, pid, exit_description(code), f" in {pause:g} s" if pause else "",
        )  # fmt: skip

    def stop_all(self) -> None:
        """SIGTERM to every child (daphne closes its clients with 1001), then wait; kill
        whatever is still running after STOP_GRACE_SECONDS."""
        running = [child.process for child in self.children if child.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            multiprocess.mark_process_dead(process.pid, str(self.metrics_dir))
        for child in self.children:
            child.process = None


def exit_description(code: int) -> str:
    """`exit code 1`, or `signal SIGKILL` for a child a signal ended."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
