"""Erasing an account: each app erases its own data; this runs the steps in their order.

1. Close (one short transaction, the user's row locked): the person can no longer sign
   in, every token is revoked (their sockets close with 4001 at the next sweep), and
   every write that stores their words or lessons now refuses them.
2. Cancel their lessons to come, outside any transaction (money moves at the provider).
3. Scrub (one transaction): what each app keeps for accounting keeps nothing personal.
4. End their sessions (a scan of the session table, outside any transaction).

The user's row stays, holding nothing personal: bookings, payments and credits refer to
it and are kept. The row lock and the `Erasure` record make it safe to run twice, at
once or after a crash: one run does the work, a second finds it done or under way.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.erasure import sessions_end, user_close, user_scrub
from accounts.models import User
from accounts.services import password_confirm
from bookings.services import bookings_cancel_future, bookings_scrub, instructor_services_retire
from chat.services import messages_erase
from conventions.errors import Forbidden, Unauthorized
from conventions.mail import emails_forget
from hub.services import topic_events_forget
from hub.topics import user_topic
from notifications.services import notifications_erase
from payments.services import payments_scrub
from privacy.models import DataExport, Erasure

# Steps 1-3 of one run: past this, a run is taken for dead and another may take over.
ERASURE_LEASE = timedelta(minutes=15)
CANCEL_REASON = "The other person's account was closed."


def account_erase(
    *,
    user: User,
    password: str | None = None,
    by_staff: User | None = None,
    client_address: str = "",
) -> tuple[Erasure, bool]:
    """Erase the person's account: by themselves with their password (a wrong one counts
    as a failed login: 401, then 429), or by staff. Staff accounts are never erased.

    Returns the erasure record and whether this call did the work (False: another run
    has done it, or is doing it now).
    """
    if by_staff is None:
        if password is None:
            raise Unauthorized("The password is required.")
        password_confirm(user=user, password=password, client_address=client_address)
    elif not by_staff.is_staff:
        raise Forbidden("Only staff erase other people's accounts.")
    if user.is_staff or user.is_superuser:
        raise Forbidden("Staff accounts are not erased; take the admin role away first.")
    erasure = _claim(user_id=user.pk, by_staff=by_staff)
    if erasure is None:
        return Erasure.objects.get(user_id=user.pk), False
    bookings_cancel_future(user=user, reason=CANCEL_REASON)
    _scrub(user_id=user.pk, erasure_id=erasure.pk)
    sessions_end(user_id=user.pk)
    erasure.refresh_from_db()
    return erasure, True


@transaction.atomic
def _claim(*, user_id: int, by_staff: User | None) -> Erasure | None:
    """Step 1, under the user's row lock: None if another run finished or holds it."""
    user = User.objects.select_for_update(no_key=True).get(pk=user_id)
    now = timezone.now()
    erasure = Erasure.objects.filter(user=user).first()
    if erasure is not None and (
        erasure.finished_at is not None
        or (erasure.claimed_until is not None and erasure.claimed_until > now)
    ):
        return None
    if erasure is None:
        erasure = Erasure(user=user, started_at=now)
    erasure.by_staff = by_staff
    erasure.claimed_until = now + ERASURE_LEASE
    erasure.save()
    user_close(user=user)
    instructor_services_retire(user=user)
    return erasure


@transaction.atomic
def _scrub(*, user_id: int, erasure_id: int) -> None:
    """Step 3: each app blanks its own tables, the accounts row first (its new name is
    what the others copy into the stored events they rewrite)."""
    user = User.objects.select_for_update(no_key=True).get(pk=user_id)
    address = user.email
    DataExport.objects.filter(owner=user).delete()
    user_scrub(user=user)
    bookings_scrub(user=user, kept_reason=CANCEL_REASON)
    messages_erase(user=user)
    notifications_erase(user=user)
    payments_scrub(user_id=user.pk)
    emails_forget(to=address)
    topic_events_forget(topic=user_topic(user.pk))
    Erasure.objects.filter(pk=erasure_id).update(finished_at=timezone.now(), claimed_until=None)
