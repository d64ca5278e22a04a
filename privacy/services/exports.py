"""Data exports: asked for over REST (or by staff), built by a task, kept until they expire.

The task gets everything it needs as arguments (the export's id and how long to keep the
archive, read from settings when the export is asked for): it never reads or changes
settings, so exports with different options can run side by side in one worker.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from conventions.errors import Invalid
from conventions.ratelimit import Rate, take
from conventions.times import iso_z
from notifications.models import Kind
from notifications.services import Email, notification_create
from privacy.models import DataExport, Erasure, ExportStatus
from privacy.selectors import archive_build

logger = logging.getLogger(__name__)

# A pending export older than this was lost (its task gone past Celery's redelivery):
# it no longer blocks a new one, and the prune marks it failed.
PENDING_GIVE_UP = timedelta(hours=1)
MAX_EXPIRES_IN_HOURS = 24 * 365


def _daily_rate() -> Rate:
    per_day = float(settings.PRIVACY_EXPORTS_PER_DAY)
    return Rate(per_second=per_day / 86400, burst=max(1, int(per_day)))


def _pending(user: User) -> DataExport | None:
    since = timezone.now() - PENDING_GIVE_UP
    return DataExport.objects.filter(
        owner=user, status=ExportStatus.PENDING, created_at__gte=since
    ).first()


def export_request(
    *, user: User, expires_in_hours: float, requested_by: User | None = None
) -> tuple[DataExport, bool]:
    """Start building the person's archive: the task is queued once this commits. While
    one is being built, that one is the answer. Returns the export and whether it is new.

    A person asks for at most PRIVACY_EXPORTS_PER_DAY (429 beyond); staff are not counted.
    """
    if not 0 < expires_in_hours <= MAX_EXPIRES_IN_HOURS:
        raise Invalid("An export is kept for a positive number of hours, at most a year.")
    pending = _pending(user)
    if pending is not None:
        return pending, False
    if requested_by is None:
        take(f"privacy.export:{user.pk}", _daily_rate())
    try:
        with transaction.atomic():
            DataExport.objects.filter(
                owner=user,
                status=ExportStatus.PENDING,
                created_at__lt=timezone.now() - PENDING_GIVE_UP,
            ).update(status=ExportStatus.FAILED)
            export = DataExport.objects.create(owner=user, requested_by=requested_by)
            transaction.on_commit(lambda: _build_later(export.pk, expires_in_hours))
    except IntegrityError:  # the same person asked twice at once: one export is made
        pending = _pending(user)
        if pending is None:
            raise
        return pending, False
    return export, True


def _build_later(export_id: int, expires_in_hours: float) -> None:
    from privacy.tasks import export_build

    export_build.delay(export_id=export_id, expires_in_hours=expires_in_hours)


def export_build(*, export_id: int, expires_in_hours: float) -> str:
    """Build and store a pending export's archive, and tell its owner (a notification, and
    an e-mail if they want that kind e-mailed). Safe to run twice: only a pending export
    is built. Returns the export's status then ("gone" if it is no more)."""
    export = DataExport.objects.select_related("owner").filter(pk=export_id).first()
    if export is None:
        return "gone"
    if export.status != ExportStatus.PENDING:
        return str(export.status)
    try:
        archive = archive_build(user=export.owner)
    except Exception:
        logger.exception("Could not build data export %s", export_id)
        DataExport.objects.filter(pk=export_id, status=ExportStatus.PENDING).update(
            status=ExportStatus.FAILED
        )
        return ExportStatus.FAILED
    with transaction.atomic():
        # The owner's row first, as an erasure takes it: an erasure under way waits for
        # this, or this finds the owner erased and stores nothing.
        owner = User.objects.select_for_update(no_key=True).get(pk=export.owner_id)
        if Erasure.objects.filter(user=owner).exists():
            return "gone"
        export = (
            DataExport.objects.select_for_update()
            .filter(pk=export_id, status=ExportStatus.PENDING)
            .first()
        )
        if export is None:  # another run stored it meanwhile, or the owner's erasure
            now_status = DataExport.objects.filter(pk=export_id).values_list("status", flat=True)
            return str(now_status.first() or "gone")
        now = timezone.now()
        export.status = ExportStatus.READY
        export.archive = archive
        export.ready_at = now
        export.expires_at = now + timedelta(hours=expires_in_hours)
        export.save(update_fields=["status", "archive", "ready_at", "expires_at"])
        notification_create(
            user=owner,
            kind=Kind.EXPORT_READY,
            data={"export_id": export.pk, "expires_at": iso_z(export.expires_at)},
            email=_ready_email(owner, export),
        )
    return ExportStatus.READY


def _ready_email(owner: User, export: DataExport) -> Email:
    until = export.expires_at or timezone.now()
    return Email(
        subject="Your data export is ready",
        body=(
            f"Hello {owner.name},\n\nthe copy of your data you asked for is ready. Signed "
            f"in, download it from /api/v1/me/exports/{export.pk} until "
            f"{until:%d %B %Y %H:%M} UTC; after that it is deleted.\n"
        ),
    )


def exports_prune() -> int:
    """Drop the archives of exports past their expiry (the row stays, answering 410), and
    mark lost pending ones failed. Safe to run twice; returns how many archives went."""
    now = timezone.now()
    dropped = DataExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now).update(
        status=ExportStatus.EXPIRED, archive=None
    )
    DataExport.objects.filter(
        status=ExportStatus.PENDING, created_at__lt=now - PENDING_GIVE_UP
    ).update(status=ExportStatus.FAILED)
    return dropped
