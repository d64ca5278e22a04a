"""Reads of accounts: the tokens a user holds."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiToken, User
from conventions.pagination import id_cursor_decode, id_cursor_encode


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
