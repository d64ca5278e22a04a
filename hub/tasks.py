from celery import shared_task

from hub.services import events_prune


@shared_task(name="hub.events_prune")
def events_prune_task() -> int:
    """Periodic: drop durable events past retention (resuming past them gives recovered=false)."""
    return events_prune()
