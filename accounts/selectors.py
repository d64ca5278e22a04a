"""Reads of accounts: the tokens and sessions a user holds."""

from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from accounts.models import ApiToken, User
from conventions.pagination import id_cursor_decode, id_cursor_encode
from conventions.times import iso_z


def tokens_live(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens that still work, newest first."""
    return ApiToken.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-pk")


def tokens_page(
    *, user: User, current: ApiToken | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the user's live tokens as they see them (never the secret)."""
    tokens = tokens_live(user=user)
    if cursor:
        tokens = tokens.filter(pk__lt=id_cursor_decode(cursor))
    page = list(tokens[: limit + 1])
    items = [
        {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "expires_at": token.expires_at,
            "current": current is not None and token.pk == current.pk,
        }
        for token in page[:limit]
    ]
    return items, id_cursor_encode(page[limit - 1].pk) if len(page) > limit else None


def sessions_still_valid(*, sessions: dict[str, int]) -> set[str]:
    """Those session keys (→ user id) still signed in as that active user: not logged
    out or expired, and the password unchanged since (Django's session hash)."""
    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
    users = User.objects.in_bulk(set(sessions.values()))
    valid = set()
    for key, user_id in sessions.items():
        data = store_class(session_key=key).load()
        user = users.get(user_id)
        if (
            user is not None
            and user.is_active
            and data.get(SESSION_KEY) == str(user_id)
            and constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
        ):
            valid.add(key)
    return valid


def profile_export(*, user: User) -> dict[str, Any]:
    """What the user row holds about the person, for their data export."""
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "timezone": user.timezone,
        "date_joined": iso_z(user.date_joined),
        "last_login": iso_z(user.last_login) if user.last_login else None,
    }


def tokens_export(*, user: User) -> list[dict[str, Any]]:
    """Every token the person holds, revoked ones too, by its metadata: never its digest."""
    return [
        {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "created_at": iso_z(token.created_at),
            "last_used_at": iso_z(token.last_used_at) if token.last_used_at else None,
            "expires_at": iso_z(token.expires_at),
            "revoked_at": iso_z(token.revoked_at) if token.revoked_at else None,
        }
        for token in ApiToken.objects.filter(user=user).order_by("pk")
    ]
