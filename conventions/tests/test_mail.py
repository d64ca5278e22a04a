"""The e-mail outbox against a real SMTP server: queued with the caller's change, sent at
least once, one recipient's failure costs only that e-mail, and it is tried again later."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections, transaction
from django.utils import timezone

from conventions import mail as outbox
from conventions.models import OutgoingEmail

pytestmark = pytest.mark.django_db(transaction=True)


def queue(n: int, **fields) -> None:
    outbox.email_enqueue(**{"key": f"k{n}", "to": f"p{n}@example.com",
                            "subject": f"Hello {n}", "body": f"Body {n}"} | fields)  # fmt: skip


def make_due(key: str) -> None:
    OutgoingEmail.objects.filter(key=key).update(next_attempt_at=timezone.now())


def test_a_rolled_back_change_queues_nothing_and_a_key_is_queued_once():
    with pytest.raises(RuntimeError), transaction.atomic():
        queue(1)
        raise RuntimeError("the change fails")
    assert not OutgoingEmail.objects.exists()
    with transaction.atomic():
        queue(2)
        queue(2, subject="Changed")
    (email,) = OutgoingEmail.objects.all()
    assert (email.key, email.subject, email.sent_at, email.attempts) == ("k2", "Hello 2", None, 0)


def test_due_emails_go_out_once_each(smtp):
    for n in range(3):
        queue(n)
    assert outbox.emails_send() == 3
    assert outbox.emails_send() == 0
    assert [smtp.count(f"p{n}@example.com", f"Hello {n}") for n in range(3)] == [1, 1, 1]
    assert smtp.received[0].body.strip() == "Body 0"
    assert not OutgoingEmail.objects.filter(sent_at__isnull=True).exists()


def test_a_refused_recipient_costs_only_that_email_and_is_retried_later(smtp, caplog):
    smtp.refused_recipients.add("p1@example.com")
    for n in range(3):
        queue(n)
    assert outbox.emails_send() == 2
    assert "Could not send e-mail k1 to p1@example.com (attempt 1)" in caplog.text
    failed = OutgoingEmail.objects.get(key="k1")
    assert failed.sent_at is None and failed.attempts == 1
    assert failed.last_error.startswith("SMTPRecipientsRefused")
    wait = failed.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < wait <= timedelta(minutes=1)
    assert outbox.emails_send() == 0  # not due yet

    smtp.refused_recipients.clear()
    make_due("k1")
    assert outbox.emails_send() == 1
    assert [smtp.count(f"p{n}@example.com", f"Hello {n}") for n in range(3)] == [1, 1, 1]
    assert OutgoingEmail.objects.get(key="k1").attempts == 2


def test_an_email_is_given_up_after_the_last_attempt(smtp, settings):
    settings.EMAIL_SEND_MAX_ATTEMPTS = 2
    smtp.refused_subjects.add("Hello 1")
    queue(1)
    assert outbox.emails_send() == 0
    make_due("k1")
    assert outbox.emails_send() == 0
    email = OutgoingEmail.objects.get()
    assert (email.attempts, email.next_attempt_at, email.sent_at) == (2, None, None)
    assert email.last_error.startswith("SMTPDataError")
    make_due("k1")
    assert outbox.emails_send() == 0  # out of attempts: left for an operator
    assert smtp.received == []


def test_a_subject_with_a_line_break_is_never_sent_and_given_up_at_once(smtp, caplog):
    queue(1, subject="Hello\nBcc: everyone@example.com")
    queue(2)
    assert outbox.emails_send() == 1
    assert [r.to for r in smtp.received] == [("p2@example.com",)]
    broken = OutgoingEmail.objects.get(key="k1")
    assert broken.next_attempt_at is None and broken.last_error.startswith("BadHeaderError")
    assert "giving up" in caplog.text


def test_a_run_that_died_leaves_its_email_to_the_next_run_once_the_lease_ends(smtp):
    queue(1)
    claim = outbox._claim_next()  # a run that claimed it and then died
    assert claim is not None
    assert outbox.emails_send() == 0  # the lease still holds it
    OutgoingEmail.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert outbox.emails_send() == 1
    assert smtp.count("p1@example.com", "Hello 1") == 1
    assert OutgoingEmail.objects.get().attempts == 2


def test_no_lock_is_held_while_the_smtp_server_is_slow(smtp):
    """A stalled send leaves its row (and every other) free to write: no transaction
    spans SMTP, which with SQLite would stop every writer."""
    smtp.stall_after = 0
    queue(1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(lambda: (outbox.emails_send(), connections.close_all())[0])
        assert smtp.stalled.wait(10)
        with transaction.atomic():
            row = OutgoingEmail.objects.select_for_update(nowait=True).get()
            assert row.claimed_until is not None and row.sent_at is None
            queue(2)
        smtp.answer_normally()
        assert running.result(10) == 2
    assert len(smtp.received) == 2


def test_two_runs_at_once_send_each_email_once():
    for n in range(10):
        queue(n)
    barrier = threading.Barrier(2)

    def run() -> int:
        try:
            barrier.wait(timeout=10)
            return outbox.emails_send()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sum(pool.map(lambda _: run(), range(2))) == 10
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"p{n}@example.com" for n in range(10))


def test_sent_emails_are_pruned_after_the_retention_others_stay(settings):
    settings.EMAIL_SENT_RETENTION_DAYS = 7
    for n in range(4):
        queue(n)
    now = timezone.now()
    OutgoingEmail.objects.filter(key="k0").update(sent_at=now - timedelta(days=8))
    OutgoingEmail.objects.filter(key="k1").update(sent_at=now - timedelta(days=6))
    OutgoingEmail.objects.filter(key="k2").update(next_attempt_at=None, attempts=8)  # given up
    assert outbox.emails_prune() == 1
    assert sorted(OutgoingEmail.objects.values_list("key", flat=True)) == ["k1", "k2", "k3"]
