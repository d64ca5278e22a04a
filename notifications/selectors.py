"""Reading notifications and preferences; only ever the caller's own."""

from django.db.models import QuerySet

from accounts.models import User
from conventions.pagination import (
    id_cursor_decode,
    id_cursor_encode,
    ranked_cursor_decode,
    ranked_cursor_encode,
)
from notifications.models import Kind, Notification, NotificationSettings
from notifications.shapes import notification_data

ORDERS = ("time", "unread_first")


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def unread_in_group(*, user_id: int, group_key: str) -> bool:
    return Notification.objects.filter(
        user_id=user_id, group_key=group_key, read_at__isnull=True
    ).exists()


def notifications_page(
    *, user: User, cursor: str | None, limit: int, unread: bool | None, order: str
) -> tuple[list[Notification], str | None]:
    """Newest first; with `order="unread_first"` every unread one comes before any read one.

    `unread` keeps only the unread (true) or only the read (false) ones.
    """
    rows = Notification.objects.filter(user=user)
    if unread is not None:
        rows = rows.filter(read_at__isnull=unread)
    if order == "unread_first" and unread is None:
        return _unread_first_page(rows, cursor=cursor, limit=limit)
    if cursor:
        rows = rows.filter(pk__lt=id_cursor_decode(cursor))
    page = list(rows.order_by("-pk")[: limit + 1])
    if len(page) <= limit:
        return page, None
    return page[:limit], id_cursor_encode(page[limit - 1].pk)


def _unread_first_page(
    rows: QuerySet[Notification], *, cursor: str | None, limit: int
) -> tuple[list[Notification], str | None]:
    """Two keyset runs, unread (rank 0) then read (rank 1), each newest first."""
    rank, before = ranked_cursor_decode(cursor, ranks=2) if cursor else (0, None)
    page: list[tuple[int, Notification]] = []
    for current in (0, 1)[rank:]:
        run = rows.filter(read_at__isnull=current == 0).order_by("-pk")
        if before is not None and current == rank:
            run = run.filter(pk__lt=before)
        page += [(current, n) for n in run[: limit + 1 - len(page)]]
        if len(page) > limit:
            break
    if len(page) <= limit:
        return [n for _, n in page], None
    last_rank, last = page[limit - 1]
    return [n for _, n in page[:limit]], ranked_cursor_encode(last_rank, last.pk)


def email_choices(*, user: User) -> dict[str, bool]:
    """Every kind with whether it is e-mailed (on unless the person turned it off)."""
    stored = (
        NotificationSettings.objects.filter(user=user).values_list("email", flat=True).first() or {}
    )
    return {kind: bool(stored.get(kind, True)) for kind in Kind.values}


def email_wanted(*, user: User, kind: str) -> bool:
    return email_choices(user=user)[kind]


def notifications_export(*, user: User) -> dict[str, object]:
    """The person's notifications, oldest first, and their e-mail choices, for their export."""
    rows = Notification.objects.filter(user=user).order_by("pk")
    return {
        "items": [notification_data(n) for n in rows],
        "email": email_choices(user=user),
    }
