"""Privacy's tasks on real Celery workers: an export asked for over REST is built and
announced, and two exports and an erasure with different options run side by side in
one process without touching each other's options or the settings they all share."""

import sys
import time
import uuid
from datetime import timedelta

import pytest

from accounts.models import User
from conventions.mail import emails_send
from conventions.models import OutgoingEmail
from privacy import tasks
from privacy.models import DataExport, Erasure
from privacy.services import export_request
from tests.helpers import PASSWORD, events_on
from tests.live import running, server_env

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(check, timeout: float = 30.0, log=None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        tail = log.read_text()[-3000:] if log else ""
        assert time.monotonic() < deadline, f"the worker did not finish in time\n{tail}"
        time.sleep(0.05)


@pytest.fixture
def threaded_worker(tmp_path):
    """A worker process of its own (`celery worker`, three threads) on a queue of its own,
    so what is sent there runs at the same time in one process, sharing its settings (the
    shared `worker` fixture runs one task after another)."""
    queue = f"privacy-side-by-side-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable, "-m", "celery", "--app", "config", "worker", "--pool", "threads",
        "--concurrency", "3", "--queues", queue, "--loglevel", "INFO", "--without-gossip",
        "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = tmp_path / "worker.log"
    with log.open("w") as output, running(command, server_env(), log=output):
        yield queue, log


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
    queue, log = threaded_worker
    staff = User.objects.create_superuser(email="boss@example.com", password=PASSWORD, name="B")
    short, _ = export_request(user=world.student, expires_in_hours=1)
    long, _ = export_request(user=world.instructor, expires_in_hours=48)
    leaving = make_user("student")
    for task, kwargs in (
        (tasks.export_build, {"export_id": short.pk, "expires_in_hours": 1}),
        (tasks.export_build, {"export_id": long.pk, "expires_in_hours": 48}),
        (tasks.account_erase, {"user_id": leaving.pk, "by_staff_id": staff.pk}),
    ):
        task.apply_async(kwargs=kwargs, queue=queue)

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
    # The three ran in one process at once: all were taken before the first one ended.
    lines = [line for line in log.read_text().splitlines() if "Task privacy." in line]
    taken = [n for n, line in enumerate(lines) if line.endswith(" received")]
    ended = [n for n, line in enumerate(lines) if " succeeded in " in line]
    assert len(taken) == len(ended) == 3 and max(taken) < min(ended), lines
