"""Closing and erasing an account, as far as accounts' own tables go (privacy runs the whole).

The user row stays (bookings, payments and credits refer to it and are kept for
accounting) but keeps nothing that says who the person was.
"""

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import ApiToken, Invite, User
from conventions.errors import Unauthorized

ERASED_NAME = "deleted user"
# Under `.invalid` (RFC 2606): never deliverable, and refused at registration, so no one
# can hold the address an erasure is about to take.
ERASED_DOMAIN = "erased.invalid"


def erased_email(user_id: int) -> str:
    return f"deleted-{user_id}@{ERASED_DOMAIN}"


def user_hold_active(*, user: User) -> None:
    """Lock the user's row for the caller's transaction and refuse (401) if the account was
    closed meanwhile: a write that stores someone's words or lessons, and the erasure of
    that person, then happen one after the other, never interleaved.

    FOR NO KEY UPDATE, like the erasure's own lock: rows that merely refer to the user
    (a notification for them, say) are still inserted alongside, so no deadlock.
    """
    active = (
        User.objects.select_for_update(no_key=True)
        .filter(pk=user.pk)
        .values_list("is_active", flat=True)
        .first()
    )
    if not active:
        raise Unauthorized("This account is closed.")


def user_close(*, user: User) -> None:
    """Nobody acts as this person any more: inactive, no usable password (which also ends
    their sessions) and every token revoked, so their sockets close with 4001 at the next
    sweep. In the caller's transaction, with the user's row locked."""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_scrub(*, user: User) -> None:
    """Replace what the user row says about the person, forget their tokens, and bind
    invites sent to their address to the erased one. In the caller's transaction."""
    old_email = user.email
    user.name = ERASED_NAME
    user.email = erased_email(user.pk)
    user.timezone = "UTC"
    user.last_login = None
    user.save(update_fields=["name", "email", "timezone", "last_login"])
    ApiToken.objects.filter(user=user).delete()
    Invite.objects.filter(email__iexact=old_email).update(email=user.email)


def sessions_end(*, user_id: int) -> int:
    """Delete the person's sessions (the page's sign-in) where the engine keeps them in the
    database; elsewhere they die on their next use, as the password hash no longer matches.

    Sessions are not indexed by user, so every live one is read: run it outside any
    transaction. Returns how many ended.
    """
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")
    if not hasattr(store, "get_model_class"):
        return 0
    keys = [
        session.session_key
        for session in store.get_model_class()
        .objects.filter(expire_date__gt=timezone.now())
        .iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user_id)
    ]
    for key in keys:
        store(session_key=key).delete()
    return len(keys)
