"""Load-generator processes: each holds many members and obeys commands from the runner.

A message text is "<phase> <sent at> <sender tag> <n>", so a receipt gives its latency
(the clock is this machine's) and whether it is the sender's own echo. Receipts are
kept per phase; the runner asks for counts while it waits and for the figures at the end.
"""

import asyncio
import contextlib
import gc
import multiprocessing
import random
import time
from collections import defaultdict

from bench.versus.members import make_member
from bench.versus.servers import raise_open_files_limit

CONNECT_CONCURRENCY = 50


class Phase:
    def __init__(self) -> None:
        self.other: list[float] = []  # latencies to members other than the sender
        self.own: list[float] = []  # latencies of the sender's own echo
        self.last_arrival: dict[str, float] = {}  # per message: when its last copy arrived
        self.first_arrival = float("inf")
        self.sent = 0
        self.refused = 0
        self.refusals: dict[str, int] = defaultdict(int)  # by error code


class Generator:
    def __init__(self) -> None:
        self.members: list[tuple[dict, object]] = []
        self.phases: dict[str, Phase] = defaultdict(Phase)
        self.per_member: dict[tuple[str, int], int] = defaultdict(int)

    def hear(self, index: int, tag: str, text: str) -> None:
        now = time.time()
        try:
            phase_id, sent_at, sender, n = text.split(" ", 3)
        except ValueError:
            return
        phase = self.phases[phase_id]
        latency = now - float(sent_at)
        (phase.own if sender == tag else phase.other).append(latency)
        key = f"{sender} {n}"
        if now > phase.last_arrival.get(key, 0.0):
            phase.last_arrival[key] = now
        phase.first_arrival = min(phase.first_arrival, now)
        self.per_member[(phase_id, index)] += 1

    async def open(self, specs: list[dict], concurrency: int) -> dict:
        gate = asyncio.Semaphore(concurrency)
        handshakes: list[float] = []
        failures = 0

        async def one(spec: dict) -> None:
            nonlocal failures
            async with gate:
                began = time.perf_counter()
                member = make_member(spec["target"], spec["url"], spec.get("token"),
                                     spec.get("reconnect", False))  # fmt: skip
                index = len(self.members)
                tag = spec.get("tag", "")
                member.on_text = lambda room, text: self.hear(index, tag, text)
                self.members.append((spec, member))
                try:
                    await asyncio.wait_for(member.open(), 60)
                    for room in spec.get("rooms", []):
                        await asyncio.wait_for(member.join(room), 60)
                except Exception:
                    failures += 1
                    return
                handshakes.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(one(spec) for spec in specs))
        gc.freeze()
        return {"handshakes": handshakes, "wall": time.perf_counter() - began,
                "failures": failures}  # fmt: skip

    async def send(self, phase_id: str, rate_per_room: float, seconds: float, count: int) -> dict:
        """Each member sends to its send rooms: paced at `rate_per_room`, or `count` at once."""
        phase = self.phases[phase_id]
        pending: set[asyncio.Task] = set()

        async def send_one(member, room: str, tag: str, n: int) -> None:
            phase.sent += 1  # offered, whatever the answer
            try:
                await member.send_text(room, f"{phase_id} {time.time():.6f} {tag} {n}")
            except Exception as exc:
                phase.refused += 1
                phase.refusals[getattr(exc, "code", None) or type(exc).__name__] += 1

        async def loop(member, room: str, tag: str) -> None:
            if not rate_per_room:
                for n in range(count):
                    await send_one(member, room, tag, n)
                return
            interval = 1 / rate_per_room
            start = time.monotonic() + random.random() * interval
            end = time.monotonic() + seconds
            n = 0
            while (at := start + n * interval) < end:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                task = asyncio.create_task(send_one(member, room, tag, n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1

        await asyncio.gather(*(loop(member, room, spec.get("tag", ""))
                               for spec, member in self.members
                               for room in spec.get("send_rooms", [])))  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 30)
        return {"sent": phase.sent, "refused": phase.refused}

    def counts(self, phase_id: str) -> dict:
        phase = self.phases[phase_id]
        done = sum(1 for (p, _), n in self.per_member.items() if p == phase_id and n)
        return {"other": len(phase.other), "own": len(phase.own), "members_heard": done}

    def members_with(self, phase_id: str, at_least: int) -> int:
        return sum(1 for (p, _), n in self.per_member.items() if p == phase_id and n >= at_least)

    def collect(self, phase_id: str) -> dict:
        phase = self.phases.pop(phase_id, Phase())
        duplicates = sum(getattr(m, "duplicates", 0) for _, m in self.members)
        return {"other": phase.other, "own": phase.own, "sent": phase.sent,
                "refused": phase.refused, "refusals": dict(phase.refusals),
                "last_arrival": phase.last_arrival,
                "first_arrival": phase.first_arrival, "duplicates": duplicates}  # fmt: skip

    async def close(self) -> None:
        await asyncio.gather(*(m.close() for _, m in self.members), return_exceptions=True)
        self.members.clear()


async def serve_commands(conn) -> None:
    generator = Generator()
    while True:
        command, *args = await asyncio.to_thread(conn.recv)
        if command == "stop":
            await generator.close()
            conn.send("stopped")
            return
        handler = getattr(generator, command)
        result = handler(*args)
        if asyncio.iscoroutine(result):
            result = await result
        conn.send(result)


def worker_main(conn) -> None:
    raise_open_files_limit()
    asyncio.run(serve_commands(conn))


class Workers:
    """The runner's handle on K generator processes: broadcast a command, gather answers."""

    def __init__(self, count: int):
        ctx = multiprocessing.get_context("spawn")
        self.conns, self.procs = [], []
        for _ in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs,), daemon=True)
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)

    def ask(self, command: str, per_worker_args: list[tuple] | None = None, timeout: float = 1800):
        for n, conn in enumerate(self.conns):
            conn.send((command, *(per_worker_args[n] if per_worker_args else ())))
        answers = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise TimeoutError(f"a load generator did not answer {command!r}")
            answers.append(conn.recv())
        return answers

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(proc.pid).cpu_times()
                total += times.user + times.system
        return total

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("stop", timeout=30)
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]
