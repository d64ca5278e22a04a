"""Old notifications go, on the real worker; unread ones are kept far longer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import tasks
from notifications.models import Kind, Notification
from notifications.services import notification_create
from tests.helpers import on_worker

pytestmark = pytest.mark.django_db(transaction=True)


def aged(user, *, days: float, read: bool) -> Notification:
    made = notification_create(user=user, kind=Kind.LESSON_REMINDER, data={})
    then = timezone.now() - timedelta(days=days)
    Notification.objects.filter(pk=made.pk).update(created_at=then, read_at=then if read else None)
    return made


def test_the_prune_task_forgets_old_read_and_very_old_unread_notifications(
    worker, student, settings
):
    settings.NOTIFICATIONS_READ_RETENTION_DAYS = 30
    settings.NOTIFICATIONS_UNREAD_RETENTION_DAYS = 365
    old_read = aged(student, days=31, read=True)
    recent_read = aged(student, days=29, read=True)
    old_unread = aged(student, days=200, read=False)
    ancient_unread = aged(student, days=400, read=False)
    assert on_worker(tasks.notifications_prune) == 2
    left = set(Notification.objects.values_list("pk", flat=True))
    assert left == {recent_read.pk, old_unread.pk}
    assert old_read.pk not in left and ancient_unread.pk not in left
    assert on_worker(tasks.notifications_prune) == 0  # safe to run twice
