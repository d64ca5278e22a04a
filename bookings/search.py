"""Finding an instructor: the catalogue's filters over `GET /api/v1/instructors`.

Text, location and price are filters in SQL. "Has a free slot on this date" needs the
slot arithmetic of `free_slots`, so it runs in Python only on the candidates that pass
the other filters, and only on as many of them as one page needs (see docs/bookings.md).
"""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from accounts.models import User
from bookings.models import LOCATION_SET_KEYS, LocationType, Service
from bookings.selectors import free_slots, instructors_with_services, local_day_bounds
from conventions.errors import Invalid
from conventions.pagination import id_cursor_decode, id_cursor_encode

MAX_WORDS = 8


@dataclass(frozen=True)
class ServiceFilter:
    """What one active service must offer: a location type and a price range."""

    location_type: str | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None

    def asked(self) -> bool:
        return (self.location_type, self.min_price_cents, self.max_price_cents) != (None,) * 3

    def rows(self) -> QuerySet[Service]:
        services = Service.objects.filter(is_active=True)
        if self.location_type is not None:
            keys = [k for k in LOCATION_SET_KEYS if self.location_type in k.split(",")]
            services = services.filter(location_types__in=keys)
        if self.min_price_cents is not None:
            services = services.filter(price_cents__gte=self.min_price_cents)
        if self.max_price_cents is not None:
            services = services.filter(price_cents__lte=self.max_price_cents)
        return services

    def passes(self, service: Service) -> bool:
        """The same test as `rows`, on a service already loaded."""
        return (
            (self.location_type is None or self.location_type in service.location_type_list)
            and (self.min_price_cents is None or service.price_cents >= self.min_price_cents)
            and (self.max_price_cents is None or service.price_cents <= self.max_price_cents)
        )


def _checked(wanted: ServiceFilter, q: str) -> list[str]:
    """The words of `q`, once every filter value is known to make sense."""
    if wanted.location_type is not None and wanted.location_type not in LocationType.values:
        raise Invalid("Unknown location type.", details={"location_type": "unknown"})
    low, high = wanted.min_price_cents, wanted.max_price_cents
    if low is not None and high is not None and low > high:
        raise Invalid(
            "`min_price_cents` is above `max_price_cents`.",
            details={"min_price_cents": "above max_price_cents"},
        )
    words = q.split()
    if len(words) > MAX_WORDS:
        raise Invalid(f"Search for at most {MAX_WORDS} words.", details={"q": "too many words"})
    return words


def _has_free_slot_on(instructor: User, wanted: ServiceFilter, day: date, zone: ZoneInfo) -> bool:
    """A free slot of one of the instructor's matching active services on local date `day`."""
    start, end = local_day_bounds(day, zone)
    for service in instructor.instructor_profile.services.all():  # active, prefetched
        if wanted.passes(service) and free_slots(service=service, range_start=start, range_end=end):
            return True
    return False


def instructor_search(
    *,
    cursor: str | None,
    limit: int,
    q: str = "",
    location_type: str | None = None,
    min_price_cents: int | None = None,
    max_price_cents: int | None = None,
    available_on: date | None = None,
    tz: str = "UTC",
) -> tuple[list[User], str | None]:
    """Instructors by id that pass every filter given.

    Each word of `q` must appear in the name, the bio or an active service's name. One
    active service must offer `location_type`, cost within the price range and, with
    `available_on`, have a free slot on that local date in `tz` (the caller's zone).
    With `available_on` a page may hold fewer than `limit` items while `next_cursor`
    still points on: each request checks at most `limit` candidates.
    """
    wanted = ServiceFilter(location_type, min_price_cents, max_price_cents)
    words = _checked(wanted, q)
    instructors = instructors_with_services()
    for word in words:
        named = Service.objects.filter(is_active=True, name__icontains=word)
        instructors = instructors.filter(
            Q(name__icontains=word)
            | Q(instructor_profile__bio__icontains=word)
            | Q(pk__in=named.values("instructor_id"))
        )
    if wanted.asked() or available_on is not None:
        instructors = instructors.filter(pk__in=wanted.rows().values("instructor_id"))
    if cursor:
        instructors = instructors.filter(pk__gt=id_cursor_decode(cursor))
    candidates = list(instructors[: limit + 1])
    more = len(candidates) > limit
    candidates = candidates[:limit]
    page = candidates
    if available_on is not None:
        zone = ZoneInfo(tz)
        page = [c for c in candidates if _has_free_slot_on(c, wanted, available_on, zone)]
    next_cursor = id_cursor_encode(candidates[-1].pk) if more else None
    return page, next_cursor
