"""Connection scenarios: memory per idle connection, connect rate, the hub's reconnect storm."""

import time

from bench.versus import fixtures
from bench.versus.members import target_url
from bench.versus.servers import Server
from bench.versus.stats import pct, progress
from bench.versus.workers import Workers, split


def idle_memory(target: str, server: Server, count: int, procs: int) -> dict:
    """The server's RSS growth over `count` idle connections, per connection (fresh server).

    The hub's connections are authenticated; the Channels tutorial's are in a room (its URL
    is the room); Socket.IO's are connected to the namespace.
    """
    url = target_url(target, server.port)
    token = fixtures.one_user()[1] if target == "hub" else None
    rooms = ["idle"] if target == "channels" else []
    spec = {"target": target, "url": url, "token": token, "rooms": rooms}
    workers = Workers(procs)
    try:
        workers.ask("open", [([spec] * 25, 25)] * procs)  # one-time costs before the baseline
        time.sleep(1.0)
        before = server.rss_bytes()
        opened = workers.ask("open", [([spec] * len(s), 50) for s in split([0] * count, procs)])
        connected = sum(len(o["handshakes"]) for o in opened)
        wall = max(o["wall"] for o in opened)
        time.sleep(5.0)
        after = server.rss_bytes()
    finally:
        workers.close()
    row = {
        "scenario": "idle connections", "target": target, "processes": server.processes,
        "connections": connected, "failed": count - connected,
        "kb_per_connection": (after - before) / 1024 / max(1, connected),
        "rss_before_mb": before / 2**20, "rss_after_mb": after / 2**20, "open_seconds": wall,
    }  # fmt: skip
    progress(f"idle {target}: {connected} connections, {row['kb_per_connection']:.1f} KB each")
    return row


def connect_rate(target: str, server: Server, count: int, procs: int) -> dict:
    """Open, authenticate (hub: token) and join a conversation, `count` clients, 50 at a time."""
    url = target_url(target, server.port)
    if target == "hub":
        pairs = fixtures.chat_pairs(100, one_instructor=False)
        specs = [{"target": target, "url": url, "token": pairs[n % 100][1],
                  "rooms": [str(pairs[n % 100][0])]} for n in range(count)]  # fmt: skip
    else:
        specs = [{"target": target, "url": url, "rooms": [f"room{n % 100}"]} for n in range(count)]
    workers = Workers(procs)
    try:
        cpu, gen = server.cpu_seconds(), workers.cpu_seconds()
        opened = workers.ask("open", [(s, 50) for s in split(specs, procs)])
        cpu, gen = server.cpu_seconds() - cpu, workers.cpu_seconds() - gen
    finally:
        workers.close()
    handshakes = sorted(x for o in opened for x in o["handshakes"])
    wall = max(o["wall"] for o in opened)
    row = {
        "scenario": "connect rate", "target": target, "processes": server.processes,
        "connections": len(handshakes), "failed": count - len(handshakes),
        "per_s": len(handshakes) / wall, "p50_ms": pct(handshakes, 50),
        "p99_ms": pct(handshakes, 99), "server_cpu_pct": 100 * cpu / wall,
        "server_cpu_ms_per_connection": 1000 * cpu / max(1, len(handshakes)),
        "generator_cpu_pct": 100 * gen / wall,
    }  # fmt: skip
    progress(
        f"connect {target}: {row['per_s']:.0f}/s, p50 {row['p50_ms']:.0f} ms p99 "
        f"{row['p99_ms']:.0f} ms, {row['server_cpu_ms_per_connection']:.1f} ms server CPU each"
    )
    return row


def reconnect_storm(server: Server, count: int, procs: int, missed: int, cap: float) -> dict:
    """`count` subscribed hub clients; the server restarts; `missed` events are published
    while it is down. How long until every client is back and has every missed event?"""
    user_id, token = fixtures.one_user()
    topic = f"user:{user_id}"
    fixtures.warm_up_publisher(topic)
    spec = {"target": "hub", "url": target_url("hub", server.port), "token": token,
            "rooms": [topic], "reconnect": True}  # fmt: skip
    workers = Workers(procs)
    try:
        opened = workers.ask("open", [([spec] * len(s), 50) for s in split([0] * count, procs)])
        connected = sum(len(o["handshakes"]) for o in opened)
        progress(f"reconnect storm: {connected} clients subscribed; restarting the hub")
        fixtures.publish_hub(topic, ["storm0 {t} pub seen"], 0.0)  # each client's position
        time.sleep(2.0)
        stopped_at = time.time()
        server.stop()
        texts = [f"storm {{t}} pub {i}" for i in range(missed)]
        fixtures.publish_hub(topic, texts, 0.0)
        restart_began = time.time()
        server.start(http_ready=False)
        ready_at = time.time()
        cpu = server.cpu_seconds()
        deadline = time.monotonic() + cap
        resumed = 0
        while time.monotonic() < deadline:
            resumed = sum(workers.ask("members_with", [("storm", missed)] * procs))
            if resumed >= connected:
                break
            time.sleep(0.25)
        done_at = time.time()
        cpu = server.cpu_seconds() - cpu
    finally:
        workers.close()
    row = {
        "scenario": "reconnect storm", "target": "hub", "processes": server.processes,
        "clients": connected, "missed_events": missed, "resumed": resumed,
        "seconds_from_ready": done_at - ready_at, "seconds_from_stop": done_at - stopped_at,
        "restart_seconds": ready_at - restart_began, "finished": resumed >= connected,
        "server_cpu_ms_per_client": 1000 * cpu / max(1, connected),
    }  # fmt: skip
    progress(
        f"reconnect storm: {resumed} of {connected} resumed, {row['seconds_from_ready']:.1f} s "
        f"after the restarted hub answered ({row['seconds_from_stop']:.1f} s after the stop)"
    )
    return row
