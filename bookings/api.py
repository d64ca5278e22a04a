"""The bookings REST router: validate, call one service or selector, answer."""

from ninja import Header, Query, Router, Status

from accounts.auth import AuthedRequest
from bookings import search, selectors, services
from bookings.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    BookingCreateIn,
    BookingOut,
    BookingPage,
    CancelIn,
    InstructorOut,
    InstructorOwnOut,
    InstructorPage,
    OverrideIn,
    OverrideOut,
    ProfileIn,
    RescheduleIn,
    ServiceIn,
    ServiceOut,
    ServicePatchIn,
    SlotsOut,
)
from bookings.shapes import (
    availability_data,
    booking_data,
    instructor_data,
    instructor_own_data,
    override_data,
    service_data,
    slot_data,
)
from conventions.pagination import Limit
from conventions.types import BoundedDate, ObjectId

router = Router(tags=["bookings"])


@router.get("/instructors", response=InstructorPage)
def instructor_list(
    request: AuthedRequest,
    cursor: str | None = None,
    limit: int = Limit,
    q: str = Query("", max_length=100),
    location_type: str | None = Query(None, max_length=40),
    min_price_cents: int | None = Query(None, ge=0, le=100_000_000),
    max_price_cents: int | None = Query(None, ge=0, le=100_000_000),
    available_on: BoundedDate | None = None,
):
    """Instructors with their active services, by id, narrowed by the catalogue's filters."""
    page, next_cursor = search.instructor_search(
        cursor=cursor,
        limit=limit,
        q=q,
        location_type=location_type,
        min_price_cents=min_price_cents,
        max_price_cents=max_price_cents,
        available_on=available_on,
        tz=request.auth.timezone,
    )
    return {"items": [instructor_data(u) for u in page], "next_cursor": next_cursor}


@router.get("/instructors/me", response=InstructorOwnOut)
def instructor_me(request: AuthedRequest):
    """The caller's own instructor profile, as students see it, with the address."""
    services.instructor_profile_ensure(user=request.auth)
    return instructor_own_data(selectors.instructor_get(instructor_id=request.auth.pk))


@router.patch("/instructors/me", response=InstructorOwnOut)
def instructor_update(request: AuthedRequest, payload: ProfileIn):
    """Change the caller's bio and/or address; fields left out stay as they are."""
    services.instructor_profile_update(user=request.auth, **payload.dict(exclude_unset=True))
    return instructor_own_data(selectors.instructor_get(instructor_id=request.auth.pk))


@router.post("/instructors/me/services", response={201: ServiceOut})
def service_create(request: AuthedRequest, payload: ServiceIn):
    """Offer a new kind of lesson."""
    fields = payload.dict()
    fields["location_types"] = [str(t.value) for t in payload.location_types]
    return Status(201, service_data(services.service_create(instructor=request.auth, **fields)))


@router.patch("/instructors/me/services/{service_id}", response=ServiceOut)
def service_update(request: AuthedRequest, service_id: ObjectId, payload: ServicePatchIn):
    """Change some terms; bookings already made keep the terms they were made on."""
    changes = payload.dict(exclude_unset=True)
    if payload.location_types is not None:
        changes["location_types"] = [str(t.value) for t in payload.location_types]
    service = services.service_update(instructor=request.auth, service_id=service_id, **changes)
    return service_data(service)


@router.delete("/instructors/me/services/{service_id}", response={204: None})
def service_retire(request: AuthedRequest, service_id: ObjectId):
    """Retire a service: no longer offered or listed."""
    services.service_retire(instructor=request.auth, service_id=service_id)
    return Status(204, None)


@router.get("/instructors/me/availability", response=AvailabilityOut)
def availability_get(request: AuthedRequest):
    """The caller's weekly rules and time zone."""
    return availability_data(services.instructor_profile_ensure(user=request.auth))


@router.put("/instructors/me/availability", response=AvailabilityOut)
def availability_replace(request: AuthedRequest, payload: AvailabilityIn):
    """Replace the weekly rules whole."""
    rules = [(r.weekday, *r.as_times()) for r in payload.rules]
    services.availability_replace(instructor=request.auth, timezone=payload.timezone, rules=rules)
    return availability_data(services.instructor_profile_ensure(user=request.auth))


@router.put("/instructors/me/availability/overrides/{day}", response=OverrideOut)
def override_set(request: AuthedRequest, day: BoundedDate, payload: OverrideIn):
    """Other hours on one local date; an empty list is a day off."""
    intervals = [i.as_times() for i in payload.intervals]
    override = services.availability_override_set(
        instructor=request.auth, day=day, intervals=intervals
    )
    return override_data(override)


@router.delete("/instructors/me/availability/overrides/{day}", response={204: None})
def override_delete(request: AuthedRequest, day: BoundedDate):
    """Back to the weekly rules on that date."""
    services.availability_override_delete(instructor=request.auth, day=day)
    return Status(204, None)


@router.get("/instructors/{instructor_id}", response=InstructorOut)
def instructor_get(request: AuthedRequest, instructor_id: ObjectId):
    return instructor_data(selectors.instructor_get(instructor_id=instructor_id))


@router.get("/instructors/{instructor_id}/slots", response=SlotsOut)
def slots(
    request: AuthedRequest,
    instructor_id: ObjectId,
    service_id: ObjectId,
    start: BoundedDate,
    end: BoundedDate,
    tz: str | None = None,
):
    """Free start times between two local dates in `tz` (default: the caller's zone)."""
    found = selectors.slots_between_dates(
        instructor_id=instructor_id,
        service_id=service_id,
        start=start,
        end=end,
        tz=tz or request.auth.timezone,
    )
    return {"slots": [slot_data(start=s.start, end=s.end) for s in found]}


@router.post("/bookings", response={200: BookingOut, 201: BookingOut})
def booking_create(
    request: AuthedRequest,
    payload: BookingCreateIn,
    idempotency_key: str = Header("", alias="Idempotency-Key", max_length=255),
):
    """Book a free slot. A retry with the same Idempotency-Key returns the first booking."""
    booking, created = services.booking_create(
        student=request.auth,
        service_id=payload.service_id,
        start=payload.start,
        location_type=payload.location_type.value,
        note=payload.note,
        meeting_point=payload.meeting_point,
        address=payload.address,
        idempotency_key=idempotency_key,
        payment_method=payload.payment_method or "",
    )
    return Status(201 if created else 200, booking_data(booking, viewer_id=request.auth.pk))


@router.get("/bookings", response=BookingPage)
def booking_list(
    request: AuthedRequest, status: str | None = None, cursor: str | None = None, limit: int = Limit
):
    """The caller's bookings, by start time."""
    page, next_cursor = selectors.booking_list(
        user=request.auth, status=status, cursor=cursor, limit=limit
    )
    items = [booking_data(b, viewer_id=request.auth.pk) for b in page]
    return {"items": items, "next_cursor": next_cursor}


@router.get("/bookings/{booking_id}", response=BookingOut)
def booking_get(request: AuthedRequest, booking_id: ObjectId):
    booking = selectors.booking_get(user=request.auth, booking_id=booking_id)
    return booking_data(booking, viewer_id=request.auth.pk)


@router.post("/bookings/{booking_id}/cancel", response=BookingOut)
def booking_cancel(request: AuthedRequest, booking_id: ObjectId, payload: CancelIn):
    booking = services.booking_cancel(
        user=request.auth, booking_id=booking_id, reason=payload.reason
    )
    return booking_data(booking, viewer_id=request.auth.pk)


@router.post("/bookings/{booking_id}/reschedule", response=BookingOut)
def booking_reschedule(request: AuthedRequest, booking_id: ObjectId, payload: RescheduleIn):
    booking = services.booking_reschedule(
        user=request.auth, booking_id=booking_id, start=payload.start
    )
    return booking_data(booking, viewer_id=request.auth.pk)


@router.post("/bookings/{booking_id}/no-show", response=BookingOut)
def booking_no_show(request: AuthedRequest, booking_id: ObjectId):
    """The instructor reports that the student did not come."""
    booking = services.booking_mark_no_show(user=request.auth, booking_id=booking_id)
    return booking_data(booking, viewer_id=request.auth.pk)
