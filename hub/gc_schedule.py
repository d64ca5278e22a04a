"""Full GC collections on a schedule under daphne, not from an allocation mid-fan-out.

The process's fan-out counts connections opened and closed here; the collections
run from its periodic job and once a burst of new connections has settled.
"""

import asyncio
import gc
import logging
import time

from hub import conf

logger = logging.getLogger(__name__)

# A burst of new connections this large is collected (and frozen) once it settles.
GC_SETTLE_SECONDS = 0.1


def collect_oldest_on_schedule() -> None:
    """Run the cyclic GC's full collections on a timer instead of mid-delivery.

    CPython starts a full collection from whatever allocation tips it over, which
    is usually an event's fan-out or a burst of connects, and with a thousand
    connections it stops the loop for over 100 ms. The objects of startup (modules,
    classes, settings) are frozen out of every later scan, and full collections
    run from a periodic job instead (`collect_oldest`); the young generations stay
    automatic.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)
    _thaw.closed_connections = 0
    _thaw.last = time.monotonic()


class _Thaw:
    """What the scheduled full collections go by (the GC is per process, so is this)."""

    closed_connections = 0  # since the frozen objects were last collected
    last = 0.0  # when that was
    grown = 0  # connections opened or subscribed since the last full collection
    last_growth = 0.0


_thaw = _Thaw()


def note_connection_closed() -> None:
    _thaw.closed_connections += 1


def note_growth() -> None:
    _thaw.grown += 1
    _thaw.last_growth = time.monotonic()


def burst_has_settled() -> bool:
    """Enough new connections to be worth a collection, and none for GC_SETTLE_SECONDS."""
    return (
        _thaw.grown >= conf.gc_after_new_connections()
        and time.monotonic() - _thaw.last_growth >= GC_SETTLE_SECONDS
    )


async def collect_when_settled() -> None:
    """Collect soon after a burst of connections ends, not at a random moment later.

    A full collection after the heap grew by many connections is the one long
    pause freezing cannot avoid; taken a tenth of a second after the burst settles
    (reconnects after a deploy, a class joining), it lands before their traffic
    rather than in the middle of some later fan-out.
    """
    while True:
        await asyncio.sleep(GC_SETTLE_SECONDS)
        if burst_has_settled():
            await collect_oldest()


async def collect_oldest() -> None:
    """One scheduled full collection; its survivors are frozen so the next one skips them.

    A full collection of everything scans every live connection (~65 ms with 1,000
    of them), however little garbage there is. Freezing the survivors makes each
    collection scan only what was created since the last one (a few ms). The price:
    a cycle among frozen objects, such as a connection alive at one collection and
    closed later, is not freed until the frozen objects are collected again. That
    is bounded here: once `gc_thaw_after_closed()` connections have closed, or
    `gc_thaw_interval()` seconds have passed, everything is unfrozen and collected
    (the long pause, but rare), then frozen again.
    """
    thaw = (
        _thaw.closed_connections >= conf.gc_thaw_after_closed()
        or time.monotonic() - _thaw.last >= conf.gc_thaw_interval()
    )
    started = time.perf_counter()
    if thaw:
        gc.unfreeze()
    gc.collect(2)
    gc.freeze()
    paused_ms = 1000 * (time.perf_counter() - started)
    _thaw.grown = 0
    if thaw:
        _thaw.closed_connections, _thaw.last = 0, time.monotonic()
    log = logger.info if thaw or paused_ms > 20 else logger.debug
    log(
        "Full GC%s: %.1f ms, %d objects frozen",
        " (thawed)" if thaw else "",
        paused_ms,
        gc.get_freeze_count(),
    )
