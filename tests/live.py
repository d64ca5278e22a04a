"""Start real servers (daphne, Celery) as child processes for end-to-end tests."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**overrides: str | None) -> dict[str, str]:
    """The test process's environment with overrides; None removes a variable."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("COV_CORE_SOURCE", None)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(command: list[str], env: dict[str, str], *, wait_url: str | None = None, log=None):
    """Run a command for the duration of a with-block, waiting until it answers."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if wait_url:
            wait_for_http(wait_url, process=process)
        yield process
    finally:
        stop(process)


def daphne_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
        "--websocket-max-message-size", str(2**20), "config.asgi:application",
    ]  # fmt: skip


def e2e_server_command(port: int) -> list[str]:
    """daphne with the test topic family `room` plugged in (tests/e2e_server.py)."""
    return [
        sys.executable, "-m", "tests.e2e_server", "--bind", "127.0.0.1", "--port", str(port),
        "--websocket-max-message-size", str(2**20), "config.asgi:application",
    ]  # fmt: skip


def database_url(port: int | None = None) -> str:
    """The test database (this xdist worker's), optionally behind another port."""
    from django.db import connection

    settings = connection.settings_dict
    return f"postgres://postgres@127.0.0.1:{port or settings['PORT'] or 5432}/{settings['NAME']}"


def server_env(**extra: str | None) -> dict[str, str]:
    """A live server's environment: the test database, and this process's Redis and prefix."""
    return child_env(DATABASE_URL=database_url(), **extra)


class Servers:
    """Servers that a module's tests share, all stopped together when the module is done."""

    def __init__(self):
        self.stack = ExitStack()

    def start(self, command, env: dict[str, str], count: int = 1) -> list[int]:
        """Start `count` copies of `command(port)` at once; return their ports once all answer."""
        ports = [free_port() for _ in range(count)]
        processes = [self.stack.enter_context(running(command(port), env)) for port in ports]
        for port, process in zip(ports, processes, strict=True):
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        return ports

    def stop(self) -> None:
        self.stack.close()


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def screenshot_publish(path: Path, name: str) -> None:
    """Copy a browser test's screenshot into docs/screenshots when asked to
    (`UPDATE_SCREENSHOTS=1 make test`), so a plain run leaves the checkout clean."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(path, folder / f"{name}.png")
