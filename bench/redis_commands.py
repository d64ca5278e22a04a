"""Redis commands per published event, for 1, 100 and 1,000 subscribers of one topic.

Why: the issue wants the cost of an event in Redis to be independent of its
audience (one PUBLISH per event to the server processes, not one per subscriber).
For each S the subscribers connect and subscribe first; then `CONFIG RESETSTAT`,
E events are published with `hub.services.publish`, every subscriber must have
them all, and `INFO commandstats` is read.

`INFO commandstats` is server-wide, so commands from other Redis users (another
database on the same server) would count too; a MONITOR held open meanwhile
counts only the commands issued on our database (--db) as a cross-check.

    .venv/bin/python bench/redis_commands.py --events 50
"""

import argparse
import collections
import multiprocessing
import threading
import time

import redis
from common import DEFAULT_URL, bench_credentials, subscriber_process

MONITOR_SECONDS_MAX = 120


def command_counts(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def monitor_db(url: str, db: int, stop: threading.Event, counts: collections.Counter) -> None:
    """Count commands issued on database `db` until `stop` is set (or a time cap)."""
    deadline = time.monotonic() + MONITOR_SECONDS_MAX
    client = redis.Redis.from_url(url, socket_timeout=0.5)
    with client.monitor() as monitor:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                command = monitor.next_command()
            except redis.TimeoutError:
                continue
            if command["db"] == db and command["command"] != "MONITOR":
                counts[command["command"].split()[0].upper()] += 1


def run_one(args, token: str, topic: str, subscribers: int, stats: redis.Redis) -> None:
    from hub.services import publish

    mp = multiprocessing.get_context("spawn")
    ready, results = mp.Queue(), mp.Queue()
    proc = mp.Process(
        target=subscriber_process,
        args=(args.url, token, topic, subscribers, args.events, 60.0, ready, results),
    )
    proc.start()
    ready.get(timeout=300)
    time.sleep(0.5)

    stop, monitored = threading.Event(), collections.Counter()
    watcher = threading.Thread(target=monitor_db, args=(args.redis, args.db, stop, monitored))
    watcher.start()
    time.sleep(0.3)
    stats.config_resetstat()
    for i in range(args.events):
        publish(topic=topic, event_type="bench.tick", data={"i": i, "t": time.time()})
    outcome = results.get(timeout=120)
    counts = command_counts(stats)
    stop.set()
    watcher.join(timeout=5)
    proc.join(timeout=60)

    counts.pop("config|resetstat", None)
    counts.pop("info", None)
    delivered = sum(len(r) for r in outcome["receipts"])
    print(
        f"S={subscribers:5d}: delivered {delivered}/{subscribers * args.events}, "
        f"missing {outcome['missing']}, duplicates {outcome['duplicates']}"
    )
    print(
        f"  INFO commandstats: {sum(counts.values()) / args.events:.2f} commands/event  "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )
    print(
        f"  MONITOR db {args.db}: {sum(monitored.values()) / args.events:.2f} commands/event  "
        + ", ".join(f"{k}={v}" for k, v in sorted(monitored.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--db", type=int, default=5)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    args = parser.parse_args()

    user_id, token = bench_credentials()
    stats = redis.Redis.from_url(args.redis)
    for subscribers in args.subscribers:
        run_one(args, token, f"user:{user_id}", subscribers, stats)


if __name__ == "__main__":
    main()
