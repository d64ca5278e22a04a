"""A periodic job through an outage: one warning when it starts, one when it ends."""

import asyncio
import logging

from django.db import OperationalError

from hub.periodic import every


async def test_an_outage_is_logged_once_without_a_traceback_and_the_job_resumes(caplog):
    runs = []
    six_runs = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) >= 6:
            six_runs.set()
        if len(runs) <= 3:
            raise OperationalError("connection refused")

    task = asyncio.create_task(every(lambda: 0.01, job, "Log tail"))
    with caplog.at_level(logging.WARNING, logger="hub.periodic"):
        await asyncio.wait_for(six_runs.wait(), 5)
    task.cancel()
    messages = [(record.getMessage(), record.exc_info) for record in caplog.records]
    assert messages == [
        ("Log tail failed (connection refused); retrying until it works", None),
        ("Log tail works again", None),
    ]
