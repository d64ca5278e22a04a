from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's wiring, and the operator's commands: `serve` and `demo_data`."""

    name = "config"

    def ready(self) -> None:
        from config import metrics  # noqa: F401  (connects the Celery task outcome counters)
