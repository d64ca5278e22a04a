"""Percentiles and progress lines, shared by the scenarios."""

import sys
import time

_STARTED = time.monotonic()


def pct(sorted_seconds: list[float], p: float) -> float:
    """The p-th percentile of sorted durations in seconds, in milliseconds (nan if none)."""
    if not sorted_seconds:
        return float("nan")
    index = min(len(sorted_seconds) - 1, round(p / 100 * (len(sorted_seconds) - 1)))
    return 1000 * sorted_seconds[index]


def progress(line: str) -> None:
    elapsed = time.monotonic() - _STARTED
    print(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {line}", file=sys.stderr, flush=True)
