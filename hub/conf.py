"""The hub's tunables, read from Django settings with these defaults."""

from django.conf import settings


# A setting holds whatever the settings module (or a test) put there; each
# reader converts it to the type its accessors promise.
def _int_setting(name: str, default: int) -> int:
    return int(getattr(settings, f"HUB_{name}", default))


def _float_setting(name: str, default: float) -> float:
    return float(getattr(settings, f"HUB_{name}", default))


def _str_setting(name: str, default: str) -> str:
    return str(getattr(settings, f"HUB_{name}", default))


def replay_limit() -> int:
    return _int_setting("REPLAY_LIMIT", 1000)


def retention_days() -> float:
    return _float_setting("EVENT_RETENTION_DAYS", 7)


def max_topics_per_connection() -> int:
    return _int_setting("MAX_TOPICS_PER_CONNECTION", 100)


def outgoing_queue_limit() -> int:
    """Frames a connection may fall behind by before it is closed with 4008."""
    return _int_setting("OUTGOING_QUEUE_FRAMES", 1000)


def intake_limit() -> int:
    """Frames a connection may have waiting before its socket is no longer read."""
    return _int_setting("INTAKE_FRAMES", 32)


def backpressure_seconds() -> float:
    """A frame that waited longer than this for its turn is refused, not run."""
    return _float_setting("BACKPRESSURE_SECONDS", 2.0)


def tail_interval() -> float:
    """How often each server process checks the log for events it missed."""
    return _float_setting("TAIL_INTERVAL_SECONDS", 2.0)


def presence_ttl() -> float:
    return _float_setting("PRESENCE_TTL_SECONDS", 60.0)


def gc_oldest_interval() -> float:
    """Under daphne, seconds between full GC collections (0: leave CPython's own schedule)."""
    return _float_setting("GC_OLDEST_INTERVAL_SECONDS", 60.0)


def gc_thaw_after_closed() -> int:
    """Closed connections after which the frozen objects are collected again (their cycles)."""
    return _int_setting("GC_THAW_AFTER_CLOSED_CONNECTIONS", 1000)


def gc_thaw_interval() -> float:
    """At most this many seconds between full collections of the frozen objects too."""
    return _float_setting("GC_THAW_INTERVAL_SECONDS", 3600.0)


def gc_after_new_connections() -> int:
    """New connections (or subscriptions) after which a full collection runs once they settle."""
    return _int_setting("GC_AFTER_NEW_CONNECTIONS", 200)


def deployment_id() -> str:
    """This deployment's id (its database's), stamped on every fast-path message."""
    return _str_setting("DEPLOYMENT_ID", "hub")


def key_prefix() -> str:
    """This deployment's prefix for every Redis key and channel-layer name."""
    return _str_setting("KEY_PREFIX", "hub")


def operations_per_second() -> float:
    """A connection's budget: frames per second it may send, on average."""
    return _float_setting("OPERATIONS_PER_SECOND", 20.0)


def operations_burst() -> int:
    """A connection's budget: frames it may send at once (subscribing to 100 topics fits)."""
    return _int_setting("OPERATIONS_BURST", 150)


def operations_refused_before_close() -> int:
    """Refused frames in a row after which the connection is closed with 1008."""
    return _int_setting("OPERATIONS_REFUSED_BEFORE_CLOSE", 50)


def presence_leave_grace() -> float:
    """Seconds a user's leave waits to be announced; a rejoin within it announces nothing."""
    return _float_setting("PRESENCE_LEAVE_GRACE_SECONDS", 2.0)


def metrics_sample_interval() -> float:
    """How often each server process samples its outgoing queues for the metrics."""
    return _float_setting("METRICS_SAMPLE_SECONDS", 5.0)
