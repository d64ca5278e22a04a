"""The Celery app: Redis broker in production, a folder-backed broker in embedded mode."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_retry_delay = 5
app.conf.task_annotations = {"*": {"max_retries": 5}}
app.conf.broker_connection_retry_on_startup = True
app.autodiscover_tasks()
