"""Each connection's operation budget: a token bucket in the connection itself.

Every frame a client sends costs a token. Over the budget a command gets
`rate_limited` with `retry_after`; a client that keeps sending regardless is
closed with 1008, so one socket cannot keep a server process busy.
"""

import time

from hub import conf


class OperationBudget:
    """`conf.operations_per_second()` tokens refill up to `conf.operations_burst()`."""

    __slots__ = ("at", "refused_in_a_row", "tokens")

    def __init__(self) -> None:
        self.tokens = float(conf.operations_burst())
        self.at = time.monotonic()
        self.refused_in_a_row = 0

    def spend(self) -> float:
        """Spend a token: 0 when there was one, else the seconds until there is."""
        now = time.monotonic()
        rate = conf.operations_per_second()
        self.tokens = min(conf.operations_burst(), self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_in_a_row = 0
            return 0.0
        self.refused_in_a_row += 1
        return (1 - self.tokens) / rate

    @property
    def exhausted(self) -> bool:
        """The client kept sending through this many refusals: time to close it."""
        return self.refused_in_a_row > conf.operations_refused_before_close()
