"""daphne with tracemalloc on: `kill -USR1 PID` writes the top allocation sites.

Why: to see where the server's memory per idle connection goes. Slower than the
plain server (tracing every allocation); use it for memory breakdowns only.

    .venv/bin/python bench/traced_server.py --bind 127.0.0.1 --port 8100 \
        --websocket-max-message-size 1048576 config.asgi:application
"""

import signal
import sys
import tracemalloc
from pathlib import Path

REPORT = Path("/tmp/hubbench-tracemalloc.txt")
snapshots: list[tracemalloc.Snapshot] = []


def report(signum, frame) -> None:
    """First signal: baseline; every later one: growth since the baseline, by site."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if not snapshots:
        snapshots.append(snapshot)
        REPORT.write_text("baseline taken\n")
        return
    stats = snapshot.compare_to(snapshots[0], "traceback")
    total = sum(stat.size_diff for stat in stats)
    lines = [f"growth since baseline: {total / 1024:.0f} KiB"]
    for stat in stats[:30]:
        lines.append(f"{stat.size_diff / 1024:9.1f} KiB {stat.count_diff:+7d} blocks")
        lines += [f"      {line}" for line in stat.traceback.format()[-6:]]
    REPORT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    tracemalloc.start(8)
    signal.signal(signal.SIGUSR1, report)
    from daphne.cli import CommandLineInterface

    sys.argv[0] = "daphne"
    CommandLineInterface.entrypoint()
