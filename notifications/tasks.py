"""Scheduled notification jobs, named `notifications.<entity>_<action>` after their service."""

from celery import shared_task

from notifications import services


@shared_task(name="notifications.notifications_prune")
def notifications_prune() -> int:
    return services.notifications_prune()
