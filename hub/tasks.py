from celery import shared_task

from hub.registry import processes_prune
from hub.services import events_prune


@shared_task(name="hub.events_prune")
def events_prune_task() -> int:
    """Periodic: drop durable events past retention (resuming past them gives recovered=false)."""
    return events_prune()


@shared_task(name="hub.processes_prune")
def processes_prune_task() -> int:
    """Periodic: forget server processes that died without a clean shutdown."""
    return processes_prune()
