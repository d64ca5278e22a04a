"""Counts `GET /me` shows beside the user, each kept by an app above accounts.

Those apps register a counter when they load, so accounts imports none of them.
"""

from collections.abc import Callable

from accounts.models import User

_COUNTERS: dict[str, Callable[..., int]] = {}


def me_count_register(name: str, count: Callable[..., int]) -> None:
    """`count(user=...)` answers the figure shown as `name`."""
    _COUNTERS[name] = count


def me_data(*, user: User) -> dict:
    """The user object with every registered count."""
    data = {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "timezone": user.timezone,
    }
    data.update({name: count(user=user) for name, count in _COUNTERS.items()})
    return data
