"""Privacy's tasks on real Celery workers: an export asked for over REST is built and
announced, and two exports and an erasure with different options run side by side in
one process without touching each other's options or the settings they all share."""

import sys
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta

import pytest
from django.db import connection, transaction

from accounts.models import User
from conventions.mail import emails_send
from conventions.models import OutgoingEmail
from privacy import tasks
from privacy.models import DataExport, Erasure
from privacy.services import export_request
from tests.helpers import PASSWORD, events_on
from tests.live import running, server_env

pytestmark = pytest.mark.django_db(transaction=True)


def sessions_waiting_for_a_lock() -> int:
    """Other sessions of this test database now waiting for a row lock."""
    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL keeps its first look at the activity: look afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_until(check, timeout: float = 30.0, log=None, what="the worker did not finish") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        tail = log.read_text()[-3000:] if log else ""
        assert time.monotonic() < deadline, f"{what} in {timeout} s\n{tail}"
        time.sleep(0.05)


@pytest.fixture
def threaded_worker(tmp_path):
    """A worker process of its own (`celery worker`, three threads) on a queue of its own,
    started when the test says, so the tasks queued before it run at the same time in one
    process and share its settings (the shared `worker` runs one task after another)."""
    queue = f"privacy-side-by-side-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable, "-m", "celery", "--app", "config", "worker", "--pool", "threads",
        "--concurrency", "3", "--queues", queue, "--loglevel", "INFO", "--without-gossip",
        "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = tmp_path / "worker.log"
    with ExitStack() as stack:

        def start() -> None:
            output = stack.enter_context(log.open("w"))
            stack.enter_context(running(command, server_env(), log=output))

        yield queue, log, start


def test_an_export_asked_over_rest_is_built_announced_and_e_mailed(worker, world, api, smtp):
    me = api(world.student_token)
    export_id = me.call("post", "/api/v1/me/export").json()["id"]
    wait_until(lambda: DataExport.objects.get(pk=export_id).status == "ready")
    archive = me.call("get", f"/api/v1/me/exports/{export_id}").json()
    assert archive["status"] == "ready" and archive["profile"]["id"] == world.student.pk

    events = events_on(f"user:{world.student.pk}", notices=True)
    created = [d for t, d in events if t == "notification.created"]
    assert created[-1]["kind"] == "export_ready"
    assert created[-1]["data"] == {"export_id": export_id, "expires_at": archive["expires_at"]}
    assert emails_send() >= 1
    (mail,) = [m for m in smtp.received if m.subject == "Your data export is ready"]
    assert mail.to == (world.student.email,)
    assert f"/api/v1/me/exports/{export_id}" in mail.body
    assert OutgoingEmail.objects.get(to=world.student.email, subject=mail.subject).sent_at


def test_two_exports_and_an_erasure_run_side_by_side_each_with_its_own_options(
    threaded_worker, world, make_user
):
    queue, log, start_worker = threaded_worker
    staff = User.objects.create_superuser(email="boss@example.com", password=PASSWORD, name="B")
    short, _ = export_request(user=world.student, expires_in_hours=1)
    long, _ = export_request(user=world.instructor, expires_in_hours=48)
    leaving = make_user("student")
    people = [world.student.pk, world.instructor.pk, leaving.pk]
    # Each task ends by locking its person's row: held here, all three must be in flight at
    # once, each waiting, before any can finish. One at a time, only one could be waiting.
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk__in=people))
        for task, kwargs in (
            (tasks.export_build, {"export_id": short.pk, "expires_in_hours": 1}),
            (tasks.export_build, {"export_id": long.pk, "expires_in_hours": 48}),
            (tasks.account_erase, {"user_id": leaving.pk, "by_staff_id": staff.pk}),
        ):
            task.apply_async(kwargs=kwargs, queue=queue)
        start_worker()
        wait_until(
            lambda: sessions_waiting_for_a_lock() >= 3,
            log=log,
            what="the three tasks were never in flight at the same time",
        )

    wait_until(
        lambda: (
            DataExport.objects.filter(pk__in=[short.pk, long.pk], status="ready").count() == 2
            and Erasure.objects.filter(user=leaving, finished_at__isnull=False).exists()
        ),
        log=log,
    )
    short.refresh_from_db()
    long.refresh_from_db()
    assert short.expires_at - short.ready_at == timedelta(hours=1)
    assert long.expires_at - long.ready_at == timedelta(hours=48)
    assert short.archive["profile"]["id"] == world.student.pk
    assert long.archive["profile"]["id"] == world.instructor.pk
    erasure = Erasure.objects.get(user=leaving)
    assert erasure.by_staff == staff
    assert User.objects.get(pk=leaving.pk).name == "deleted user"
