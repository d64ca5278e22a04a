"""The live topics bookings owns: `availability:{instructor_id}` for calendar views."""

from bookings.models import InstructorProfile
from hub.topics import TopicFamily, register_family


def may_watch_availability(user, instructor_id: int) -> bool:
    """Any signed-in user may watch an instructor's calendar, as they may list the slots."""
    return InstructorProfile.objects.filter(pk=instructor_id).exists()


AVAILABILITY = TopicFamily(name="availability", authorize=may_watch_availability)


def register() -> None:
    register_family(AVAILABILITY)
