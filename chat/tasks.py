"""Chat's periodic job, named `chat.<entity>_<action>` after the service it calls.

Safe to run twice, also at the same time.
"""

from celery import shared_task

from chat import notices


@shared_task(name="chat.offline_notices_send")
def offline_notices_send() -> int:
    return notices.offline_notices_send()
