from celery import shared_task

from accounts.services import tokens_prune


@shared_task(name="accounts.tokens_prune")
def tokens_prune_task() -> int:
    """Daily: forget tokens revoked long ago; safe to run twice."""
    return tokens_prune()
