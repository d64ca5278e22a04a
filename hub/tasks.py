"""The hub's periodic jobs, named `hub.<entity>_<action>` after the function they call."""

from celery import shared_task

from hub import registry, services


@shared_task(name="hub.events_prune")
def events_prune() -> int:
    """Periodic: drop durable events past retention (resuming past them gives recovered=false)."""
    return services.events_prune()


@shared_task(name="hub.processes_prune")
def processes_prune() -> int:
    """Periodic: forget server processes that died without a clean shutdown."""
    return registry.processes_prune()
