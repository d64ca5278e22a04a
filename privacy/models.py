"""What privacy keeps: data exports until they expire, and a record of each erasure."""

from django.conf import settings
from django.db import models

from accounts.models import User


class ExportStatus(models.TextChoices):
    PENDING = "pending"  # asked for; the task has not stored the archive yet
    READY = "ready"  # the archive is there to download until `expires_at`
    FAILED = "failed"  # the task could not build it (or never ran): ask again
    EXPIRED = "expired"  # past `expires_at`: the archive is dropped, the row answers 410


class DataExport(models.Model):
    """A person's data archive, built by a task and downloadable by them until it expires."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    # Staff who asked on the owner's behalf (the admin action); null: the owner did.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    archive = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"], name="data_export_due")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values), name="data_export_status_valid"
            ),
            # One export being built per person: the database says so, not only the code.
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(status="pending"),
                name="data_export_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} of {self.owner_id} ({self.status})"


class Erasure(models.Model):
    """That an account was erased, when and by whom: the audit record, nothing personal."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The staff member who erased it from the admin; null: the person themselves.
    by_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run erasing it holds it until then; a run that died is taken over after.
    claimed_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Erasure of {self.user_id}"


class Account(User):
    """Users as the privacy admin lists them, with its export and erase actions."""

    class Meta:
        proxy = True
        verbose_name = "account"
