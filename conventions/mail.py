"""The e-mail outbox: e-mail is queued with the change that causes it, and sent later.

A rolled-back change queues nothing; a committed one is sent at least once, even when
the process sending it dies (a duplicate only if it dies between the SMTP server's
"accepted" and the row marked sent).
"""

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conventions.models import OutgoingEmail

logger = logging.getLogger(__name__)

# A run stops taking new e-mails after this long, well inside Celery's 90 s soft limit.
SEND_BUDGET_SECONDS = 60
# Waits after a failed attempt: 1 minute, doubling each time, at most an hour.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class Claim:
    """An e-mail this run holds until `lease`; every later write checks it is still ours."""

    email: OutgoingEmail
    lease: datetime


def email_enqueue(*, key: str, to: str, subject: str, body: str) -> None:
    """Queue an e-mail in the caller's transaction, so it goes out only if that commits.

    The key says what the e-mail is about: queuing a key again changes nothing. An
    address under `.invalid` (RFC 2606: never deliverable, e.g. an erased account's) is
    not queued.
    """
    if to.lower().endswith(".invalid"):
        return
    OutgoingEmail.objects.bulk_create(
        [
            OutgoingEmail(
                key=key, to=to, subject=subject[:998], body=body, next_attempt_at=timezone.now()
            )
        ],
        ignore_conflicts=True,
    )


def emails_send() -> int:
    """Send the queued e-mails that are due; returns how many went out.

    Each e-mail is claimed in a short transaction of its own (a lease, not a lock), so no
    write lock is held through SMTP and a run that dies leaves it to the next run once
    the lease ends. A failed e-mail waits longer after each try; it stops nobody else's.
    """
    sent = 0
    deadline = time.monotonic() + SEND_BUDGET_SECONDS
    connection = get_connection()
    try:
        while time.monotonic() < deadline:
            claim = _claim_next()
            if claim is None:
                break
            sent += _deliver(connection, claim)
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return sent


def emails_prune(*, now: datetime | None = None) -> int:
    """Forget e-mails sent longer ago than EMAIL_SENT_RETENTION_DAYS; given-up ones stay."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EMAIL_SENT_RETENTION_DAYS)
    deleted, _ = OutgoingEmail.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def emails_forget(*, to: str = "", key_prefix: str = "") -> int:
    """Privacy erasure: e-mails to `to`, or keyed `key_prefix…`, that have not gone out are
    dropped; sent ones keep only their key and times. Returns how many were touched."""
    if not to and not key_prefix:
        return 0
    rows = OutgoingEmail.objects.all()
    if to:
        rows = rows.filter(to__iexact=to)
    if key_prefix:
        rows = rows.filter(key__startswith=key_prefix)
    dropped, _ = rows.filter(sent_at__isnull=True).delete()
    blanked = rows.filter(sent_at__isnull=False).update(to="", subject="", body="", last_error="")
    return dropped + blanked


def _claim_next() -> Claim | None:
    """Lease the next due e-mail, skipping ones another run holds; the try counts now."""
    now = timezone.now()
    with transaction.atomic():
        email = (
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                sent_at__isnull=True,
                next_attempt_at__lte=now,
                attempts__lt=settings.EMAIL_SEND_MAX_ATTEMPTS,
            )
            .order_by("next_attempt_at", "pk")
            .first()
        )
        if email is None:
            return None
        lease = now + timedelta(seconds=settings.EMAIL_SEND_LEASE_SECONDS)
        email.attempts += 1
        email.claimed_until = lease
        email.save(update_fields=["attempts", "claimed_until"])
    return Claim(email=email, lease=lease)


def _deliver(connection: BaseEmailBackend, claim: Claim) -> int:
    """Send one claimed e-mail and mark it sent; 1 when it went out, else 0."""
    email = claim.email
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
    )
    try:
        if not connection.send_messages([message]):
            raise RuntimeError("the mail backend sent nothing")
    except Exception as error:
        with contextlib.suppress(Exception):
            connection.close()  # a broken connection must not fail the next e-mail
        _record_failure(claim, error)
        return 0
    marked = OutgoingEmail.objects.filter(
        pk=email.pk, claimed_until=claim.lease, sent_at__isnull=True
    ).update(sent_at=timezone.now(), claimed_until=None, next_attempt_at=None, last_error="")
    if not marked:
        logger.warning("E-mail %s was sent after its lease ended: it may go out twice", email.key)
    return 1


def _record_failure(claim: Claim, error: Exception) -> None:
    """Note the error and when to try again; after the last try (or a bad header) give up."""
    email = claim.email
    given_up = (
        isinstance(error, BadHeaderError) or email.attempts >= settings.EMAIL_SEND_MAX_ATTEMPTS
    )
    wait = min(FIRST_RETRY * 2 ** (email.attempts - 1), LONGEST_WAIT)
    logger.warning(
        "Could not send e-mail %s to %s (attempt %s%s): %s: %s",
        email.key,
        email.to,
        email.attempts,
        ", giving up" if given_up else "",
        type(error).__name__,
        error,
    )
    OutgoingEmail.objects.filter(pk=email.pk, claimed_until=claim.lease).update(
        claimed_until=None,
        last_error=f"{type(error).__name__}: {error}"[:500],
        next_attempt_at=None if given_up else timezone.now() + wait,
    )
