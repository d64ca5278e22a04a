"""Privacy's background jobs, named `privacy.<entity>_<action>` after the service they call.

Each takes every option it needs as an argument: none reads or changes settings, so
jobs with different options run side by side in one worker.
"""

from celery import shared_task

from accounts.models import User
from privacy import services


@shared_task(name="privacy.export_build")
def export_build(export_id: int, expires_in_hours: float) -> str:
    """Build one export's archive; safe to run twice (a ready export is left alone)."""
    return services.export_build(export_id=export_id, expires_in_hours=expires_in_hours)


@shared_task(name="privacy.account_erase")
def account_erase(user_id: int, by_staff_id: int) -> bool:
    """Staff's erasure from the admin; safe to run twice (a second run finds it done)."""
    user = User.objects.filter(pk=user_id).first()
    staff = User.objects.filter(pk=by_staff_id).first()
    if user is None or staff is None:
        return False
    _, done_now = services.account_erase(user=user, by_staff=staff)
    return done_now


@shared_task(name="privacy.exports_prune")
def exports_prune() -> int:
    """Hourly: drop expired archives."""
    return services.exports_prune()
