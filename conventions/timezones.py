"""IANA time-zone names, validated against the bundled tz database."""

import functools
import zoneinfo


@functools.cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid_timezone(name: str) -> bool:
    return name in known_timezones()
