"""Notifications are made by the domain services in the transaction of the change they
report (a rolled-back change notifies nobody), pushed live and kept until read."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from conventions.errors import Invalid
from conventions.mail import email_enqueue
from hub.services import publish, publish_computed, stored_events_rewrite
from hub.topics import user_topic
from notifications.models import Kind, Notification, NotificationSettings
from notifications.selectors import email_choices, email_wanted, unread_count
from notifications.shapes import notification_data

MAX_IDS = 200


@dataclass(frozen=True)
class Email:
    """The e-mail that goes with a notification when its kind is e-mailed to this person.

    `key` says what it is about (the outbox sends a key once); empty: the notification's.
    """

    subject: str
    body: str
    key: str = ""


@transaction.atomic(savepoint=False)
def notification_create(
    *, user: User, kind: str, data: dict[str, Any], group_key: str = "", email: Email | None = None
) -> Notification | None:
    """Keep a notification for `user`, push it on their `user:` topic, and queue its
    e-mail if they want that kind e-mailed; all in the caller's transaction (or one of
    its own, committed as a whole).

    With a `group_key`, nothing is made while one of that group is still unread (None);
    nothing either for a closed account (erased or blocked): nobody is there to read it.
    """
    if not user.is_active:
        return None
    now = timezone.now()
    fields = {"user": user, "kind": Kind(kind), "data": data, "group_key": group_key}
    if group_key:
        if Notification.objects.filter(
            user=user, group_key=group_key, read_at__isnull=True
        ).exists():
            return None
        try:
            with transaction.atomic():  # the unique index decides a race
                notification = Notification.objects.create(created_at=now, **fields)
        except IntegrityError:
            return None
    else:
        notification = Notification.objects.create(created_at=now, **fields)
    publish(
        topic=user_topic(user.pk),
        event_type="notification.created",
        data=notification_data(notification),
    )
    _unread_changed(user)
    if email is not None and email_wanted(user=user, kind=kind):
        email_enqueue(
            key=email.key or f"notification-{notification.pk}",
            to=user.email,
            subject=email.subject,
            body=email.body,
        )
    return notification


def _unread_changed(user: User) -> None:
    """Every tab and device shows the same unread count: counted under the topic's lock,
    so of two changes at once the later event carries the later count."""
    publish_computed(
        topic=user_topic(user.pk),
        event_type="notifications.unread",
        compute=lambda: {"unread_count": unread_count(user=user)},
    )


def _ids(value: object) -> list[int]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_IDS:
        raise Invalid(f"`ids` is a list of 1 to {MAX_IDS} ids.", details={"ids": "invalid"})
    for item in value:
        if type(item) is not int or not 1 <= item < 2**63:
            raise Invalid("`ids` holds notification ids.", details={"ids": "invalid"})
    return value


@transaction.atomic
def notifications_read(*, user: User, ids: object = None, up_to: object = None) -> int:
    """Mark some of the caller's notifications read (`ids`), or all up to one id
    (`up_to`). Ids that are not the caller's are ignored. Returns how many changed."""
    if (ids is None) == (up_to is None):
        raise Invalid("Give either `ids` or `up_to`.", details={"ids": "one of", "up_to": "one of"})
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=_ids(ids))
    else:
        if type(up_to) is not int or not 1 <= up_to < 2**63:
            raise Invalid("`up_to` is a notification id.", details={"up_to": "invalid"})
        rows = rows.filter(pk__lte=up_to)
    changed = rows.update(read_at=timezone.now())
    if changed:
        _unread_changed(user)
    return changed


def notifications_read_group(*, user: User, group_key: str) -> int:
    """What a group stood for was seen elsewhere (a conversation read to its end)."""
    changed = Notification.objects.filter(
        user=user, group_key=group_key, read_at__isnull=True
    ).update(read_at=timezone.now())
    if changed:
        _unread_changed(user)
    return changed


def notification_settings_update(*, user: User, email: object) -> dict[str, bool]:
    """Turn e-mail on or off for the kinds given; the others keep their choice."""
    if not isinstance(email, dict):
        raise Invalid("`email` maps kinds to true or false.", details={"email": "invalid"})
    unknown = {key: "unknown kind" for key in email if key not in Kind.values}
    not_bool = {key: "true or false" for key, value in email.items() if type(value) is not bool}
    if unknown or not_bool:
        problems = {f"email.{key}": why for key, why in (not_bool | unknown).items()}
        raise Invalid("Unknown kinds or values that are not true or false.", details=problems)
    with transaction.atomic():
        row, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
        row.email = {**row.email, **email}
        row.save(update_fields=["email", "updated_at"])
    return email_choices(user=user)


def notifications_erase(*, user: User) -> int:
    """Privacy erasure: forget the person's notifications and e-mail choices (no event: no
    one reads their topic any more). Returns how many notifications went."""
    deleted, _ = Notification.objects.filter(user=user).delete()
    NotificationSettings.objects.filter(user=user).delete()
    return deleted


def notifications_data_rewrite(
    *, kinds: tuple[str, ...], where: dict[str, Any], rewrite: Callable[[Any], Any]
) -> int:
    """Rewrite the data of everyone's kept notifications of `kinds` that match `where`
    (JSON key lookups, e.g. `{"with__id": 5}`), and of their stored `notification.created`
    events: a person erased elsewhere leaves no name behind. Returns how many."""
    lookups = {f"data__{path}": value for path, value in where.items()}
    rows = list(Notification.objects.filter(kind__in=kinds, **lookups))
    for row in rows:
        row.data = rewrite(row.data)
    Notification.objects.bulk_update(rows, ["data"], batch_size=500)
    for user_id in sorted({row.user_id for row in rows}):
        stored_events_rewrite(
            topic=user_topic(user_id),
            event_types=("notification.created",),
            where={"kind__in": list(kinds), **{f"data__{k}": v for k, v in where.items()}},
            rewrite=lambda event: {**event, "data": rewrite(event["data"])},
        )
    return len(rows)


def notifications_prune() -> int:
    """Forget read notifications past NOTIFICATIONS_READ_RETENTION_DAYS, and unread ones
    past NOTIFICATIONS_UNREAD_RETENTION_DAYS. Safe to run twice."""
    now = timezone.now()
    read_cutoff = now - timedelta(days=settings.NOTIFICATIONS_READ_RETENTION_DAYS)
    unread_cutoff = now - timedelta(days=settings.NOTIFICATIONS_UNREAD_RETENTION_DAYS)
    read, _ = Notification.objects.filter(read_at__lt=read_cutoff).delete()
    stale, _ = Notification.objects.filter(
        read_at__isnull=True, created_at__lt=unread_cutoff
    ).delete()
    return read + stale
