"""Admin for payments."""

from django.contrib import admin, messages

from payments import services
from payments.models import ProviderEvent


@admin.register(ProviderEvent)
class ProviderEventAdmin(admin.ModelAdmin):
    """Stripe's events as received: read-only; "process again" re-reads their objects."""

    list_display = ("type", "event_id", "received_at", "processed_at", "attempts", "last_error")
    list_filter = ("type", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "type")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in ProviderEvent._meta.fields]
    actions = ["process_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_process_permission(self, request) -> bool:
        """Re-processing writes (payments, bookings): it takes the right to change events."""
        return request.user.has_perm("payments.change_providerevent")

    @admin.action(
        description="Process again (re-reads each object's current state)",
        permissions=["process"],
    )
    def process_again(self, request, queryset):
        failed = 0
        for event_pk in queryset.values_list("pk", flat=True):
            event = services.provider_event_process(event_pk=event_pk, again=True)
            if event.last_error:
                failed += 1
                self.message_user(request, f"{event}: {event.last_error}", messages.WARNING)
        done = queryset.count() - failed
        self.message_user(request, f"Processed {done} event(s) again; {failed} failed.")
