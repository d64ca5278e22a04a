"""The three servers under test: start, watch (CPU, memory) and always stop them.

Every server runs on 127.0.0.1 in a session of its own, so stopping it stops its
children too; `stop_everything` runs at exit and on Ctrl-C or SIGTERM.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The bench's own PostgreSQL database and Redis database (the smoke test gives its own).
DATABASE = os.environ.get("VERSUS_DATABASE", "hubbench_versus")
REDIS_URL = os.environ.get("VERSUS_REDIS_URL", "redis://127.0.0.1:6379/8")
PORTS = {"hub": 8201, "channels": 8211, "socketio": 8212}
LOG_DIR = Path("/tmp/hubbench-versus")

# What the hub runs with: production mode, the bench database, limits opened for load.
HUB_ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-secret",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PAYMENTS_DEV_ALLOWED": "true",
    "DATA_DIR": str(LOG_DIR / "data"),
    "CHAT_MESSAGE_RATE_PER_MINUTE": "600000",
    "CHAT_MESSAGE_BURST": "10000",
    "HUB_OPERATIONS_PER_SECOND": "100000",
    "HUB_OPERATIONS_BURST": "100000",
}

_running: list["Server"] = []


def hub_environment() -> dict[str, str]:
    return {**os.environ, **HUB_ENV, "PYTHONPATH": str(ROOT)}


def raise_open_files_limit() -> None:
    """As many sockets as the hard limit allows (10,000 idle connections need them)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Server:
    """One server under test: its command, its port, and the process tree it started."""

    name: str
    command: list[str]
    port: int
    env: dict[str, str]
    processes: int = 1
    proc: subprocess.Popen | None = None
    log: Path = field(default_factory=Path)

    def start(self, timeout: float = 60.0, http_ready: bool = True) -> None:
        """Start and wait until it answers HTTP; `http_ready=False`: until it accepts
        sockets with every server process started (a storm of reconnecting clients keeps
        a restarted hub too busy to answer a probe within a second)."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log = LOG_DIR / f"{self.name}.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=raise_open_files_limit,
            )  # fmt: skip
        _running.append(self)
        self._wait_ready(timeout, http_ready)

    def _wait_ready(self, timeout: float, http_ready: bool) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            up = answers_http(self.port) if http_ready else accepts(self.port)
            if up and len(self.server_processes()) >= self.processes:
                if http_ready:
                    time.sleep(1.0)  # every child past its start-up work
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer on port {self.port}; see {self.log}")

    def tree(self) -> list[psutil.Process]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def server_processes(self) -> list[psutil.Process]:
        """The processes serving sockets: serve's daphne children, or the one server."""
        tree = self.tree()
        children = [p for p in tree[1:] if "daphne" in " ".join(_cmdline(p))]
        return children or tree[:1]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for process in self.server_processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM (the hub closes its sockets with 1001), then SIGKILL whatever is left."""
        if self.proc is None:
            return
        tree = self.tree()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        _, alive = psutil.wait_procs(tree, timeout=1)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.proc = None
        if self in _running:
            _running.remove(self)


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def answers_http(port: int) -> bool:
    """Whether a server answers HTTP on the port (any status: it is up)."""
    request = b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), 1.0) as probe:
            probe.sendall(request)
            return bool(probe.recv(1))
    except OSError:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def hub_server(processes: int = 1) -> Server:
    command = [
        PYTHON, "manage.py", "serve", "--no-worker", "--host", "127.0.0.1",
        "--port", str(PORTS["hub"]), "--processes", str(processes),
    ]  # fmt: skip
    return Server(f"hub-{processes}p", command, PORTS["hub"], hub_environment(), processes)


def channels_server() -> Server:
    command = [
        PYTHON, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(PORTS["channels"]),
        "bench.peers.channels_chat.asgi:application",
    ]  # fmt: skip
    env = {**os.environ, "REDIS_URL": REDIS_URL, "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "bench.peers.channels_chat.settings"}  # fmt: skip
    return Server("channels", command, PORTS["channels"], env)


def socketio_server() -> Server:
    command = [
        PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(PORTS["socketio"]),
        "--log-level", "warning", "--no-access-log", "bench.peers.socketio_chat:app",
    ]  # fmt: skip
    env = {**os.environ, "REDIS_URL": REDIS_URL, "PYTHONPATH": str(ROOT)}
    return Server("socketio", command, PORTS["socketio"], env)


def prepare_hub_database() -> None:
    """Create the bench database if missing and migrate it."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            db.execute(f'CREATE DATABASE "{DATABASE}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=hub_environment(),
        check=True,
    )  # fmt: skip


def flush_redis() -> None:
    """Empty the bench's Redis database between servers (layers, presence, limits)."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def stop_everything() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()
