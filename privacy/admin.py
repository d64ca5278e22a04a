"""Staff's privacy tools: export or erase anyone's data from the Accounts list, and the
records of both.

Erasing is deliberate: a confirmation page names everyone it will erase, and staff
accounts are never erased. It runs as a task (`privacy.account_erase`), as cancelling
lessons asks the payment provider; the Erasures list shows when each finished.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from privacy import services, tasks
from privacy.models import Account, DataExport, Erasure, ExportStatus
from privacy.shapes import export_archive_data


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the services write: shown to staff, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["email", "name", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "name"]
    ordering = ["email"]
    fields = ["email", "name", "role", "timezone", "is_active", "date_joined"]
    actions = ["export_data", "erase_accounts"]

    @admin.action(description="Export the selected people's data")
    def export_data(self, request, queryset) -> None:
        for user in queryset.order_by("pk"):
            export, created = services.export_request(
                user=user,
                expires_in_hours=settings.PRIVACY_EXPORT_RETENTION_HOURS,
                requested_by=request.user,
            )
            state = "is being built" if created else "was already being built"
            self.message_user(
                request, f"{user.email}: export {export.pk} {state} (see Data exports)."
            )

    @admin.action(description="Erase the selected accounts…")
    def erase_accounts(self, request, queryset) -> TemplateResponse | None:
        chosen = list(queryset.order_by("pk"))
        for user in chosen:
            if user.is_staff or user.is_superuser:
                self.message_user(
                    request,
                    f"{user.email} is a staff account and is not erased; take the admin "
                    "role away first.",
                    messages.ERROR,
                )
        people = [u for u in chosen if not (u.is_staff or u.is_superuser)]
        if not people:
            return None
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase these accounts?",
                "opts": self.model._meta,
                "people": people,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/privacy/account/erase_confirmation.html", context
            )
        for user in people:
            tasks.account_erase.delay(user_id=user.pk, by_staff_id=request.user.pk)
        self.message_user(
            request,
            f"Erasing {len(people)} account(s); see Erasures for when each is done.",
            messages.SUCCESS,
        )
        return None


@admin.register(DataExport)
class DataExportAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "requested_by", "status", "created_at", "expires_at",
                    "download"]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["owner__email"]
    list_select_related = ["owner", "requested_by"]
    fields = readonly_fields = (
        "owner", "requested_by", "status", "created_at", "ready_at", "expires_at", "download",
    )  # fmt: skip

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:export_id>/download/", download, name="privacy_dataexport_download"),
            *super().get_urls(),
        ]

    @admin.display(description="archive")
    def download(self, export: DataExport) -> str:
        if not _downloadable(export):
            return "—"
        url = reverse("admin:privacy_dataexport_download", args=[export.pk])
        return format_html('<a href="{}">download</a>', url)

    def download_view(self, request: HttpRequest, export_id: int) -> JsonResponse:
        """The archive as the owner would get it, for staff handing it over by hand."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        export = get_object_or_404(DataExport, pk=export_id)
        if not _downloadable(export):
            raise PermissionDenied
        response = JsonResponse(export_archive_data(export))
        response["Content-Disposition"] = f'attachment; filename="export-{export.pk}.json"'
        return response


def _downloadable(export: DataExport) -> bool:
    return (
        export.status == ExportStatus.READY
        and export.expires_at is not None
        and export.expires_at > timezone.now()
    )


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    list_display = ["user_id", "by_staff", "started_at", "finished_at"]
    fields = readonly_fields = ("user", "by_staff", "started_at", "finished_at", "claimed_until")
    list_select_related = ["by_staff"]
