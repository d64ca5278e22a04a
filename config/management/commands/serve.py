"""Serve REST, WebSocket and static files with daphne, plus a Celery worker and beat.

All three run as child processes and stop together on Ctrl-C or SIGTERM.
"""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.network import is_loopback, port_is_free

STOP_GRACE_SECONDS = 15


def server_command(host: str, port: int) -> list[str]:
    # Behind a proxy, the client's address (rate limits) comes from X-Forwarded-For.
    proxy = ["--proxy-headers"] if settings.BEHIND_PROXY else []
    return [
        sys.executable, "-m", "daphne",
        "--bind", host, "--port", str(port), *proxy,
        # Let frames up to the protocol's 64 KiB limit through; the hub closes with 1009 above it.
        "--websocket-max-message-size", str(2**20),
        "--application-close-timeout", "10",
        "config.asgi:application",
    ]  # fmt: skip


def worker_commands() -> list[list[str]]:
    celery = [sys.executable, "-m", "celery", "--app", "config"]
    schedule = settings.CELERY_BEAT_SCHEDULE_FILENAME
    return [
        [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "--without-gossip"],
        [*celery, "beat", "--loglevel", "INFO", "--schedule", schedule],
    ]


class Command(BaseCommand):
    help = "Run the hub: daphne on HOST:PORT, a Celery worker and Celery beat."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--no-worker", action="store_true", help="Serve only.")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options) -> None:
        if settings.DEBUG and not settings.DEBUG_CHOSEN and not is_loopback(host):
            raise CommandError(
                f"Refusing to serve debug pages on {host}: the embedded mode runs with DEBUG "
                "on, which shows settings and code to anyone who can reach it. Serve on "
                "127.0.0.1, set up production (README), or say DEBUG=true if you mean it."
            )
        if not port_is_free(host, port):
            raise CommandError(
                f"{host}:{port} is already in use (another hub?). Stop it, or pick another "
                f"port: PORT=8001 make run"
            )
        commands = [server_command(host, port)]
        if not no_worker:
            commands += worker_commands()
        children = [subprocess.Popen(command) for command in commands]
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        announced = False
        while not stopping and all(child.poll() is None for child in children):
            if not announced and not port_is_free(host, port):  # daphne is listening
                self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl-C stops everything)")
                announced = True
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [
            " ".join(command[2:4])
            for child, command in zip(children, commands, strict=True)
            if child.returncode not in (0, -15, 15)
        ]
        if failed and not stopping:
            raise SystemExit(f"A process of the hub stopped unexpectedly: {failed}")
