"""The notifications REST router: the caller's own notifications and e-mail choices."""

from typing import Literal

from ninja import Router, Status

from accounts.auth import AuthedRequest
from conventions.pagination import Limit
from notifications import selectors, services
from notifications.schemas import NotificationPage, NotificationSettingsIO, ReadIn
from notifications.shapes import notification_data

router = Router(tags=["notifications"])


@router.get("/notifications", response=NotificationPage)
def notification_list(
    request: AuthedRequest,
    cursor: str | None = None,
    limit: int = Limit,
    unread: bool | None = None,
    order: Literal["time", "unread_first"] = "time",
):
    """Newest first, or every unread one first (`order=unread_first`); `unread=true` keeps
    only the unread ones."""
    items, next_cursor = selectors.notifications_page(
        user=request.auth, cursor=cursor, limit=limit, unread=unread, order=order
    )
    return {
        "items": [notification_data(n) for n in items],
        "next_cursor": next_cursor,
        "unread_count": selectors.unread_count(user=request.auth),
    }


@router.post("/notifications/read", response={204: None})
def notifications_read(request: AuthedRequest, payload: ReadIn):
    """Mark read: `{"ids": [...]}` or `{"up_to": id}`; others' ids are ignored."""
    services.notifications_read(user=request.auth, ids=payload.ids, up_to=payload.up_to)
    return Status(204, None)


@router.get("/me/notification-settings", response=NotificationSettingsIO)
def notification_settings(request: AuthedRequest):
    """Which kinds are also e-mailed to the caller (all are kept in-app)."""
    return {"email": selectors.email_choices(user=request.auth)}


@router.put("/me/notification-settings", response=NotificationSettingsIO)
def notification_settings_update(request: AuthedRequest, payload: NotificationSettingsIO):
    """Turn e-mail on or off per kind; kinds left out keep their choice."""
    choices = services.notification_settings_update(user=request.auth, email=payload.email)
    return {"email": choices}
