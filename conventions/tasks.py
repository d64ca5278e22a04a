"""The outbox's jobs, named `conventions.<entity>_<action>` after the service they call.

Safe to run twice, also at the same time: each e-mail is leased by one run.
"""

from celery import shared_task

from conventions import mail


@shared_task(name="conventions.emails_send")
def emails_send() -> int:
    return mail.emails_send()


@shared_task(name="conventions.emails_prune")
def emails_prune() -> int:
    return mail.emails_prune()
