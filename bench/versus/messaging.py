"""Chat and fan-out scenarios, run the same way against each of the three servers."""

import asyncio
import time
from dataclasses import dataclass

from bench.versus import fixtures
from bench.versus.members import target_url
from bench.versus.servers import REDIS_URL, Server
from bench.versus.stats import pct, progress
from bench.versus.workers import Workers, split


@dataclass
class Run:
    """What a scenario needs to know about the run: sizes and how many generator processes."""

    smoke: bool
    procs: int
    chat_rates: list[int]
    chat_seconds: float
    conversations: int
    fan_subscribers: int
    fan_events: int
    paced_events: int
    drain_seconds: float


def settle(server: Server, cap: float = 60.0) -> None:
    """Wait until the server is idle (under 10 % of a core for a second): queued work done."""
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        time.sleep(1.0)
        if server.cpu_seconds() - before < 0.1:
            return


def wait_for(workers: Workers, phase: str, key: str, expected: int, cap: float, stall: float):
    """Poll the generators until `expected` receipts, no progress for `stall` s, or `cap` s."""
    deadline, last, last_change = time.monotonic() + cap, -1, time.monotonic()
    while time.monotonic() < deadline:
        got = sum(c[key] for c in workers.ask("counts", [(phase,)] * len(workers.conns)))
        if got >= expected:
            return
        if got != last:
            last, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > stall:
            return
        time.sleep(0.25)


def chat_specs(target: str, url: str, conversations: int, one_instructor: bool) -> list[dict]:
    if target == "hub":
        pairs = fixtures.chat_pairs(conversations, one_instructor)
        rooms = [str(conversation) for conversation, _, _ in pairs]
        students = [(t, r) for (_, t, _), r in zip(pairs, rooms, strict=True)]
        teachers = [pairs[0][2]] if one_instructor else [i for _, _, i in pairs]
    else:
        rooms = [f"room{n}" for n in range(conversations)]
        students = [(None, r) for r in rooms]
        teachers = [None] * (1 if one_instructor else conversations)
    specs = [
        {"target": target, "url": url, "token": token, "rooms": [room], "send_rooms": [room],
         "tag": f"s{n}"}
        for n, (token, room) in enumerate(students)
    ]  # fmt: skip
    if one_instructor:
        specs.insert(0, {"target": target, "url": url, "token": teachers[0], "rooms": rooms,
                         "tag": "i"})  # fmt: skip
    else:
        specs += [{"target": target, "url": url, "token": t, "rooms": [r], "tag": f"i{n}"}
                  for n, (t, r) in enumerate(zip(teachers, rooms, strict=True))]  # fmt: skip
    return specs


def chat(run: Run, target: str, server: Server, one_instructor: bool, rates: list[int]):
    """Students send to their conversation at a total offered rate; both members hear it."""
    scenario = "chat, one instructor" if one_instructor else "chat, one instructor each"
    url = target_url(target, server.port)
    specs = chat_specs(target, url, run.conversations, one_instructor)
    workers = Workers(run.procs)
    rows = []
    try:
        opened = workers.ask("open", [(s, 50) for s in split(specs, run.procs)])
        failures = sum(o["failures"] for o in opened)
        progress(f"{scenario}: {len(specs) - failures} members connected ({failures} failed)")
        for rate in rates:
            phase = f"chat{rate}"
            per_room = rate / run.conversations
            cpu, gen, began = server.cpu_seconds(), workers.cpu_seconds(), time.time()
            sends = workers.ask("send", [(phase, per_room, run.chat_seconds, 0)] * run.procs)
            sent = sum(s["sent"] for s in sends)
            wait_for(workers, phase, "other", sent, run.drain_seconds, 3.0)
            elapsed = time.time() - began
            cpu, gen = server.cpu_seconds() - cpu, workers.cpu_seconds() - gen
            got = workers.ask("collect", [(phase,)] * run.procs)
            other = sorted(x for g in got for x in g["other"])
            own = sorted(x for g in got for x in g["own"])
            row = {
                "scenario": scenario, "target": target, "processes": server.processes,
                "offered_per_s": rate, "conversations": run.conversations,
                "seconds": run.chat_seconds, "sent": sent,
                "refused": sum(s["refused"] for s in sends), "delivered": len(other),
                "refusals": _merged([g["refusals"] for g in got]),
                "echoed": len(own), "p50_ms": pct(other, 50), "p99_ms": pct(other, 99),
                "own_p50_ms": pct(own, 50), "own_p99_ms": pct(own, 99),
                "server_cpu_pct": 100 * cpu / elapsed, "generator_cpu_pct": 100 * gen / elapsed,
                "server_cpu_us_per_delivery": 1e6 * cpu / max(1, len(other) + len(own)),
            }  # fmt: skip
            rows.append(row)
            progress(
                f"{scenario} {target} x{server.processes} @ {rate}/s: delivered {len(other)} of "
                f"{sent}, p50 {row['p50_ms']:.1f} ms p99 {row['p99_ms']:.1f} ms, server CPU "
                f"{row['server_cpu_pct']:.0f} %, generator CPU {row['generator_cpu_pct']:.0f} %"
            )
            settle(server)
    finally:
        workers.close()
    return rows


def _merged(counts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for code, n in count.items():
            total[code] = total.get(code, 0) + n
    return total


async def _publish_peer(target: str, texts: list[str], interval: float) -> list[float]:
    """The peers' way to send from outside the server: their Redis layer, as a task would."""
    began: list[float] = []
    if target == "channels":
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[REDIS_URL])

        async def emit(text: str) -> None:
            await layer.group_send("chat_fan", {"type": "chat.message", "message": text})
    else:
        import socketio

        manager = socketio.AsyncRedisManager(
            REDIS_URL, channel="bench-versus-socketio", write_only=True
        )

        async def emit(text: str) -> None:
            await manager.emit("message", {"room": "fan", "message": text}, room="fan",
                               namespace="/")  # fmt: skip

    await emit("warm-up")  # open the connection before the first measured message
    for i, text in enumerate(texts):
        if interval and i:
            await asyncio.sleep(max(0.0, began[0] + i * interval - time.time()))
        began.append(time.time())
        await emit(text.replace("{t}", f"{began[-1]:.6f}"))
    return began


def fanout(run: Run, target: str, server: Server) -> list[dict]:
    """N members of one room; messages published from outside, back-to-back then paced."""
    url = target_url(target, server.port)
    if target == "hub":
        user_id, token = fixtures.one_user()
        room = f"user:{user_id}"
        fixtures.warm_up_publisher(room)
    else:
        token, room = None, "fan"
    specs = [{"target": target, "url": url, "token": token, "rooms": [room], "tag": f"f{n}"}
             for n in range(run.fan_subscribers)]  # fmt: skip
    workers = Workers(run.procs)
    rows = []
    try:
        opened = workers.ask("open", [(s, 50) for s in split(specs, run.procs)])
        members = sum(len(o["handshakes"]) for o in opened)
        progress(f"fan-out {target} x{server.processes}: {members} subscribers connected")
        time.sleep(2.0)  # the server's collection after a burst of connections, done
        for paced, events in ((False, run.fan_events), (True, run.paced_events)):
            phase = "fanpaced" if paced else "fanburst"
            texts = [f"{phase} {{t}} pub {i}" for i in range(events)]
            cpu, gen = server.cpu_seconds(), workers.cpu_seconds()
            if target == "hub":
                began = fixtures.publish_hub(room, texts, 1.0 if paced else 0.0)
            else:
                began = asyncio.run(_publish_peer(target, texts, 1.0 if paced else 0.0))
            expected = members * events
            wait_for(workers, phase, "other", expected, run.drain_seconds + 60, 5.0)
            cpu, gen = server.cpu_seconds() - cpu, workers.cpu_seconds() - gen
            got = workers.ask("collect", [(phase,)] * run.procs)
            every = sorted(x for g in got for x in g["other"])
            lasts: dict[str, float] = {}
            for g in got:
                for key, at in g["last_arrival"].items():
                    lasts[key] = max(at, lasts.get(key, 0.0))
            wall = max(lasts.values(), default=began[0]) - began[0]
            last_ms = sorted(lasts[f"pub {i}"] - began[i] for i in range(events)
                             if f"pub {i}" in lasts)  # fmt: skip
            delivered = len(every)
            row = {
                "scenario": "fan-out paced 1/s" if paced else "fan-out back-to-back",
                "target": target, "processes": server.processes, "subscribers": members,
                "events": events, "delivered": delivered, "lost": expected - delivered,
                "duplicates": sum(g["duplicates"] for g in got),
                "deliveries_per_s": delivered / wall if wall > 0 else 0.0,
                "p50_ms": pct(every, 50), "p99_ms": pct(every, 99),
                "last_p50_ms": pct(last_ms, 50), "last_p99_ms": pct(last_ms, 99),
                "server_cpu_us_per_delivery": 1e6 * cpu / max(1, delivered),
                "generator_cpu_us_per_delivery": 1e6 * gen / max(1, delivered),
            }  # fmt: skip
            rows.append(row)
            progress(
                f"{row['scenario']} {target} x{server.processes}: {delivered} of {expected}, "
                f"{row['deliveries_per_s']:,.0f}/s, server {row['server_cpu_us_per_delivery']:.0f}"
                f" us/delivery, generator {row['generator_cpu_us_per_delivery']:.0f} us/delivery"
            )
            settle(server)
    finally:
        workers.close()
    return rows
