"""Serve REST, WebSocket and static files with daphne, plus a Celery worker and beat.

SERVER_PROCESSES daphne processes share the one port (config.processes); all the
children stop together on Ctrl-C or SIGTERM, and one that dies is started again.
"""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.network import is_loopback
from config.processes import (
    Child,
    GaveUp,
    Listener,
    PortTaken,
    Supervisor,
    metrics_directory,
    server_process_count,
)


def server_command(listener: Listener) -> list[str]:
    # Behind a proxy, the client's address (rate limits) comes from X-Forwarded-For.
    proxy = ["--proxy-headers"] if settings.BEHIND_PROXY else []
    return [
        sys.executable, "-m", "daphne", *listener.daphne_arguments(), *proxy,
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
    help = "Run the hub: daphne processes on HOST:PORT, a Celery worker and Celery beat."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--processes", type=int, help="daphne processes (default: SERVER_PROCESSES)"
        )
        parser.add_argument("--no-worker", action="store_true", help="Serve only.")

    def handle(
        self, *args, host: str, port: int, processes: int | None, no_worker: bool, **options
    ) -> None:
        if settings.DEBUG and not settings.DEBUG_CHOSEN and not is_loopback(host):
            raise CommandError(
                f"Refusing to serve debug pages on {host}: the embedded mode runs with DEBUG "
                "on, which shows settings and code to anyone who can reach it. Serve on "
                "127.0.0.1, set up production (README), or say DEBUG=true if you mean it."
            )
        try:
            listener, count = Listener.open(host, port, server_process_count(processes))
        except PortTaken:
            raise CommandError(
                f"{host}:{port} is already in use (another hub?). Stop it, or pick another "
                f"port: PORT=8001 make run"
            ) from None
        children = [
            Child(f"server process {n}", server_command(listener)) for n in range(1, count + 1)
        ]
        if not no_worker:
            worker, beat = worker_commands()
            children += [Child("Celery worker", worker), Child("Celery beat", beat)]
        fds = () if listener.sock is None else (listener.sock.fileno(),)
        metrics_dir = metrics_directory(listener.port)
        supervisor = Supervisor(children, metrics_dir=metrics_dir, pass_fds=fds)
        plural = "es" if count > 1 else ""
        try:
            supervisor.run(
                ready=listener.answers,
                announce=lambda: self.stdout.write(
                    f"Serving on http://{host}:{listener.port}/ with {count} server "
                    f"process{plural} (Ctrl-C stops everything)"
                ),
            )
        except GaveUp as exc:
            raise SystemExit(f"A process of the hub keeps stopping unexpectedly: {exc}") from None
        finally:
            listener.close()
