"""Fault drill: a Celery worker killed (kill -9, its whole process group) in the middle of
sending e-mail. The task is handed out again, and every e-mail arrives exactly once.

Real processes throughout: `celery -A config worker` (prefork) on this test's PostgreSQL
database and Redis, and an SMTP server (tests.smtp) that accepts two messages and then
never answers DATA, so the worker is provably mid-task when it dies. The visibility
timeout and the outbox lease are one second here (3600 s and 120 s in production).
"""

import os
import secrets
import signal
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from conventions.models import OutgoingEmail
from tests.helpers import place_booking
from tests.live import running, server_env
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)

VISIBILITY_SECONDS = 1
LEASE_SECONDS = 1
WORKER = [
    sys.executable, "-m", "celery", "--app", "config", "worker", "--loglevel", "INFO",
    "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
]  # fmt: skip


def group_alive(pgid: int) -> list[int]:
    """The processes of a process group that still run (zombies are dead)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def wait_until(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


@pytest.fixture
def reminders_queued(make_user):
    """Three lessons 20 hours ahead: six reminders (student and teacher each) queued."""
    teacher = make_user("instructor")
    service = services.service_create(
        instructor=teacher, name="Piano", duration_minutes=60, price_cents=4500,
        currency="eur", location_types=["online"], min_notice_minutes=0,
    )  # fmt: skip
    for hours in (20, 21, 22):
        place_booking(service, make_user("student"), timezone.now() + timedelta(hours=hours))
    assert services.reminders_send() == 3
    return {(e.to, e.subject) for e in OutgoingEmail.objects.all()}


@pytest.fixture
def broker_prefix():
    """A key prefix of the drill's own, so no other worker of this test run takes its task."""
    prefix = f"{settings.HUB_KEY_PREFIX}-drill{secrets.token_hex(3)}"
    yield prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_a_worker_killed_mid_send_loses_no_email_and_sends_none_twice(
    reminders_queued, broker_prefix, tmp_path
):
    expected = reminders_queued
    assert len(expected) == 6
    with SmtpServer() as smtp:
        smtp.stall_after = 2
        env = server_env(
            HUB_KEY_PREFIX=broker_prefix, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port),
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_SEND_LEASE_SECONDS=str(LEASE_SECONDS),
            CELERY_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_SECONDS),
        )  # fmt: skip
        sender = Celery("drill", broker=settings.REDIS_URL)
        sender.conf.broker_transport_options = {"global_keyprefix": f"{broker_prefix}-celery:"}
        task_id = sender.send_task("conventions.emails_send").id

        first_log, second_log = tmp_path / "worker1.log", tmp_path / "worker2.log"
        with first_log.open("w") as log, running(WORKER, env, log=log) as first:
            wait_until(smtp.stalled.is_set, 20, "the worker never reached the stall", first_log)
            assert len(smtp.received) == 2
            assert OutgoingEmail.objects.filter(sent_at__isnull=False).count() == 2
            (held,) = OutgoingEmail.objects.filter(sent_at=None, claimed_until__isnull=False)
            assert len(group_alive(first.pid)) >= 2  # the parent and its pool's child
            killed_at = time.monotonic()
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            wait_until(lambda: not group_alive(first.pid), 10, "the group outlived -9", first_log)
        smtp.answer_normally()
        # The new worker takes the task back once its visibility timeout has passed, and
        # the e-mail being sent once the lease has: both a second here.
        held.refresh_from_db()
        time.sleep(max(0.0, (held.claimed_until - timezone.now()).total_seconds()) + 0.1)

        with second_log.open("w") as log, running(WORKER, env, log=log):
            wait_until(
                lambda: not OutgoingEmail.objects.filter(sent_at__isnull=True).exists(),
                15, "not every e-mail was sent after the restart", second_log,
            )  # fmt: skip
            recovered = max(r.at for r in smtp.received) - killed_at
    counts = Counter((r.to[0], r.subject) for r in smtp.received)
    assert counts == Counter({pair: 1 for pair in expected})
    assert f"conventions.emails_send[{task_id}] received" in second_log.read_text()
    held.refresh_from_db()
    assert held.sent_at is not None and held.attempts == 2 and held.last_error == ""
    assert Booking.objects.filter(reminder_24h_sent_at__isnull=True).count() == 0
    print(f"\nworker killed mid-send: all {len(expected)} e-mails delivered once, "
          f"the last {recovered:.2f} s after the kill")  # fmt: skip
