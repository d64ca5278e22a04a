"""The metrics every layer shares: refusals by the rate limiters.

Metrics are prometheus-client objects, defined by the layer that counts them and
served together at `/metrics` (config.metrics). Label values are always names
from our code (a limiter, an event type, a route), never user input, so the
number of series stays bounded.
"""

from prometheus_client import Counter

RATE_LIMITED = Counter(
    "hub_rate_limited",
    "Requests and commands refused by a rate limit, by limit "
    "(`connection`: a socket's operation budget; otherwise the bucket's name).",
    ["limit"],
)


def rate_limited(limit: str) -> None:
    """Count one refusal by `limit`: a bucket key's name part (`chat.send`, not the user's id)."""
    RATE_LIMITED.labels(limit.partition(":")[0]).inc()
