"""Admin for profiles, services, availability and bookings.

Booking status is read-only here: it moves only through the services, which keep
payments and live calendars in step. The actions call those services.
"""

from django.contrib import admin, messages

from bookings import services
from bookings.models import (
    HOLDING_STATUSES,
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    InstructorProfile,
    Service,
)
from conventions.errors import ServiceError


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ("name", "duration_minutes", "price_cents", "currency", "location_types", "is_active")


class RuleInline(admin.TabularInline):
    model = AvailabilityRule
    extra = 0


@admin.register(InstructorProfile)
class InstructorProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "timezone")
    search_fields = ("user__email", "user__name")
    inlines = [ServiceInline, RuleInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "instructor",
        "duration_minutes",
        "price_cents",
        "currency",
        "is_active",
    )
    list_filter = ("is_active", "currency")
    search_fields = ("name", "instructor__user__email")


@admin.register(AvailabilityRule)
class AvailabilityRuleAdmin(admin.ModelAdmin):
    list_display = ("instructor", "weekday", "start_time", "end_time")
    list_filter = ("weekday",)


@admin.register(AvailabilityOverride)
class AvailabilityOverrideAdmin(admin.ModelAdmin):
    list_display = ("instructor", "date", "intervals")
    date_hierarchy = "date"


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "start", "student", "instructor", "service", "payment")
    list_filter = ("status", "payment__status", "location_type")
    search_fields = ("student__email", "instructor__user__email")
    date_hierarchy = "start"
    list_select_related = ("student", "instructor__user", "service")
    actions = ["cancel_bookings"]
    readonly_fields = [f.name for f in Booking._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Cancel the selected bookings (frees the time, settles payment)")
    def cancel_bookings(self, request, queryset):
        done = 0
        for booking in queryset.filter(status__in=HOLDING_STATUSES):
            try:
                services.booking_cancel_by_staff(
                    staff=request.user, booking_id=booking.pk, reason="Cancelled by staff"
                )
                done += 1
            except ServiceError as error:
                self.message_user(request, f"Booking {booking.pk}: {error}", messages.WARNING)
        self.message_user(request, f"Cancelled {done} booking(s).")
