"""Reads of privacy: a person's archive (each section read by the app that owns the data)
and their own exports."""

from typing import Any

from django.utils import timezone

from accounts.models import User
from accounts.selectors import profile_export, tokens_export
from bookings.selectors import bookings_export, instructor_export
from chat.selectors import conversations_export
from conventions.errors import Gone, NotFound
from conventions.times import iso_z
from notifications.selectors import notifications_export
from payments.selectors import credits_export, payments_export
from privacy.models import DataExport, ExportStatus
from privacy.shapes import ARCHIVE_FORMAT, export_archive_data, export_status_data


def archive_build(*, user: User) -> dict[str, Any]:
    """Everything we hold about the person, by section: profile, tokens' metadata (never a
    digest), bookings, conversations with their own messages, notifications, credits and
    payments (never card data nor a client secret)."""
    return {
        "format": ARCHIVE_FORMAT,
        "generated_at": iso_z(timezone.now()),
        "profile": profile_export(user=user),
        "instructor": instructor_export(user=user),
        "tokens": tokens_export(user=user),
        "bookings": bookings_export(user=user),
        "conversations": conversations_export(user=user),
        "notifications": notifications_export(user=user),
        "credits": credits_export(user_id=user.pk),
        "payments": payments_export(user_id=user.pk),
    }


def export_get(*, user: User, export_id: int) -> DataExport:
    """One of the person's own exports; anyone else's answers exactly like a missing one."""
    export = DataExport.objects.filter(pk=export_id, owner=user).first()
    if export is None:
        raise NotFound("No such export.")
    return export


def export_answer(*, user: User, export_id: int) -> dict[str, Any]:
    """The archive while it is kept; its status while it is being built (or failed); 410
    once it has expired, even before the hourly prune drops it."""
    export = export_get(user=user, export_id=export_id)
    expired = export.status == ExportStatus.EXPIRED or (
        export.status == ExportStatus.READY
        and export.expires_at is not None
        and export.expires_at <= timezone.now()
    )
    if expired:
        raise Gone("This export has expired; ask for a new one.")
    if export.status == ExportStatus.READY:
        return export_archive_data(export)
    return export_status_data(export)
