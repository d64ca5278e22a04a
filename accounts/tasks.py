"""Accounts' periodic job, named `accounts.<entity>_<action>` after the service it calls."""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tokens_prune")
def tokens_prune() -> int:
    """Daily: forget tokens revoked long ago; safe to run twice."""
    return services.tokens_prune()
