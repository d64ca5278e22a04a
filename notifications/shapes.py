"""A notification as REST lists it and `notification.created` carries it."""

from conventions.times import iso_z
from notifications.models import Notification


def notification_data(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "data": notification.data,
        "created_at": iso_z(notification.created_at),
        "read_at": iso_z(notification.read_at) if notification.read_at else None,
    }
