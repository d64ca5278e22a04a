"""The server process's own periodic jobs (log tail, presence, registry, GC), which must
outlive any outage of the database or Redis without flooding the log."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.db import Error as DatabaseError
from redis import RedisError

logger = logging.getLogger(__name__)

# What an outage of the database or Redis raises: worth a line in the log, not a traceback.
OUTAGE_ERRORS = (DatabaseError, RedisError, OSError)


async def every(
    interval: Callable[[], float], job: Callable[[], Awaitable[None]], what: str
) -> None:
    """Run `job` every `interval()` seconds for the process's life, surviving failures.

    An outage is logged once when it starts and once when the job works again."""
    failing = False
    while True:
        await asyncio.sleep(interval())
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except OUTAGE_ERRORS as exc:
            if not failing:
                logger.warning("%s failed (%s); retrying until it works", what, exc)
            failing = True
        except Exception:
            logger.warning("%s failed; retrying", what, exc_info=True)
            failing = True
        else:
            if failing:
                logger.warning("%s works again", what)
            failing = False
