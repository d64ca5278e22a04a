"""Celery tasks follow one pattern, and beat runs only tasks that exist."""

import re

from django.conf import settings

from config.celery import app

OURS = (
    "conventions", "accounts", "hub", "notifications", "bookings", "chat", "payments", "privacy",
)  # fmt: skip
PATTERN = re.compile(r"^(?P<app>[a-z]+)\.(?P<entity>[a-z]+(?:_[a-z]+)*)_(?P<action>[a-z]+)$")


def our_tasks() -> dict:
    """The tasks of our apps' `tasks.py` (not Celery's own, nor ones a test defines)."""
    app.loader.import_default_modules()
    modules = {f"{name}.tasks" for name in OURS}
    return {name: task for name, task in app.tasks.items() if task.run.__module__ in modules}


def test_every_task_is_app_entity_action_and_named_like_its_function():
    tasks = our_tasks()
    assert len(tasks) >= 8
    for name, task in tasks.items():
        match = PATTERN.match(name)
        assert match, f"{name} is not <app>.<entity>_<action>"
        assert task.run.__module__ == f"{match['app']}.tasks", name
        assert task.run.__name__ == name.split(".", 1)[1], name


def test_beat_runs_registered_tasks_under_their_own_names():
    tasks = our_tasks()
    for entry, schedule in settings.CELERY_BEAT_SCHEDULE.items():
        assert schedule["task"] == entry
        assert entry in tasks
