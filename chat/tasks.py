"""Chat's periodic job; safe to run twice, also at the same time."""

from celery import shared_task

from chat.notices import offline_notices_send


@shared_task(name="chat.send_offline_notices")
def send_offline_notices() -> int:
    return offline_notices_send()
