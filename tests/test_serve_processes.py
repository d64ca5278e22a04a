"""`manage.py serve` with two daphne processes on one port, on PostgreSQL and Redis.

The kernel spreads the connections of one listening socket over the processes; the
connection registry says which process holds each. An event published on one
process reaches the sockets of both; `/metrics` answered by either adds up both;
SIGTERM closes every client with 1001 and stops every child; a child killed with
SIGKILL is started again while the port keeps answering.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from accounts.services import token_create, user_create
from chat.services import conversation_open
from config.processes import Child, GaveUp, Supervisor
from hub.client import HubClient, HubClosed
from hub.models import Connection, ServerProcess
from tests.helpers import PASSWORD
from tests.live import ROOT, free_port, server_env, wait_for_http

pytestmark = pytest.mark.django_db(transaction=True)

METRICS_TOKEN = "scrape-token-for-tests"
MOST_CLIENTS = 40  # connected in fours until both processes hold some


class Serve:
    """`manage.py serve` as a child process (its own session), with its log."""

    def __init__(self, tmp_path: Path, *args: str, **env: str | None):
        self.port = free_port()
        self.log_path = tmp_path / "serve.log"
        environment = server_env(
            DATA_DIR=str(tmp_path), METRICS_TOKEN=METRICS_TOKEN, HUB_METRICS_SAMPLE_SECONDS="0.2"
        )
        for name, value in env.items():  # None: unset (DATABASE_URL too)
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--port", str(self.port), *args],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", process=self.process)
        deadline = time.monotonic() + 15
        while "Serving on" not in self.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.url = f"ws://127.0.0.1:{self.port}/ws/v1/"

    def log(self) -> str:
        return self.log_path.read_text()

    def servers(self) -> set[int]:
        """The pids of serve's daphne children."""
        return {pid for pid, command in children(self.process.pid) if "daphne" in command}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def serve(tmp_path):
    started: list[Serve] = []

    def start(*args: str, **env: str | None) -> Serve:
        started.append(Serve(tmp_path, *args, **env))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def children(pid: int) -> list[tuple[int, str]]:
    """The processes whose parent is `pid`, with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == pid:
            found.append((int(entry.name), command))
    return found


def server_pids(connection_ids: list[str]) -> dict[str, int]:
    """Which daphne (pid) holds each connection, once every process wrote its registry batch."""
    deadline = time.monotonic() + 15
    while True:
        rows = Connection.objects.filter(pk__in=connection_ids)
        process_of = dict(rows.values_list("pk", "process_id"))
        labels = ServerProcess.objects.filter(pk__in=process_of.values())
        pid_of = {row.pk: int(row.label.rsplit(" ", 1)[1]) for row in labels}  # "host pid N"
        held = {cid: pid_of[process] for cid, process in process_of.items() if process in pid_of}
        if len(held) == len(connection_ids) or time.monotonic() > deadline:
            assert len(held) == len(connection_ids), "every connection is in the registry"
            return held
        time.sleep(0.1)


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """One answer of /metrics: (sample name, sorted labels) -> value."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scraped_until(port: int, wanted: dict[tuple[str, tuple], float]) -> dict:
    """Scrape (each time on a new connection, so by either process) until the figures match."""
    deadline = time.monotonic() + 15
    while True:
        figures = scrape(port)
        found = {key: figures.get(key) for key in wanted}
        if found == wanted or time.monotonic() > deadline:
            assert found == wanted
            return figures
        time.sleep(0.1)


async def spread_clients(url: str, tokens: list[str], topic: str) -> tuple[list[HubClient], dict]:
    """Connect and subscribe clients, four at a time, until both processes hold some."""
    clients: list[HubClient] = []
    while len(clients) < MOST_CLIENTS:
        batch = [HubClient(url, tokens[n % len(tokens)], reconnect=False) for n in range(4)]
        for client in batch:
            await client.connect()
            await client.subscribe(topic)
        clients += batch
        held = await asyncio.to_thread(server_pids, [c.connection_id for c in clients])
        if len(set(held.values())) == 2:
            return clients, held
    raise AssertionError(f"{MOST_CLIENTS} connections all went to one process")


def pair() -> tuple[int, list[str]]:
    """A student and an instructor with a conversation: its id and a token for each."""
    student = user_create(email="s@example.com", password=PASSWORD, name="S", role="student")
    teacher = user_create(email="i@example.com", password=PASSWORD, name="I", role="instructor")
    conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
    return conversation.pk, [token_create(user=student)[1], token_create(user=teacher)[1]]


def test_an_event_published_on_one_process_reaches_the_clients_of_both(serve):
    conversation_id, tokens = pair()
    topic = f"conversation:{conversation_id}"
    hub = serve("--no-worker", SERVER_PROCESSES="2")
    assert len(hub.servers()) == 2
    assert "with 2 server processes" in hub.log()

    async def scenario() -> tuple[list[HubClient], dict]:
        clients, held = await spread_clients(hub.url, tokens, topic)
        sender = clients[0]
        for n in range(3):
            body = {"body": f"hello {n}", "client_id": f"spread-{n}"}
            await sender.publish(topic, "message.send", body)
        for client in clients:
            seqs = []
            while len(seqs) < 3:
                event = await client.next_event(10)
                if event.type == "message.created":
                    seqs.append(event.seq)
            assert seqs == sorted(seqs) and len(set(seqs)) == 3
        return clients, held

    clients, held = asyncio.run(scenario())
    on_sender = held[clients[0].connection_id]
    assert any(pid != on_sender for pid in held.values()), "some clients are on the other one"

    count = float(len(clients))
    figures = scraped_until(
        hub.port,
        {
            ("hub_connections", ()): count,
            ("hub_subscriptions", ()): count,
            ("hub_events_published_total", (("type", "message.created"),)): 3.0,
            ("hub_events_delivered_total", (("type", "message.created"),)): 3 * count,
        },
    )
    # Once per event per process that has subscribers: 3 events on 2 processes.
    assert figures[("hub_event_delivery_seconds_count", ())] >= 6
    for _ in range(6):  # whichever process answers, it reports both
        assert scrape(hub.port)[("hub_connections", ())] == count


def test_sigterm_closes_every_client_with_1001_and_stops_every_process(serve):
    conversation_id, tokens = pair()
    hub = serve(SERVER_PROCESSES="2")  # with the Celery worker and beat
    # The worker and beat are up too: wait for beat's schedule and the worker's pool.
    deadline = time.monotonic() + 30
    while len(everything := children(hub.process.pid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(everything) == 4, everything

    async def scenario() -> list[int | None]:
        clients, _ = await spread_clients(hub.url, tokens, f"conversation:{conversation_id}")
        hub.process.send_signal(signal.SIGTERM)  # serve alone; it tells its children
        codes = []
        for client in clients:
            try:
                while True:
                    await client.next_event(20)
            except HubClosed as closed:
                codes.append(closed.code)
            await client.close()
        return codes

    codes = asyncio.run(scenario())
    assert codes == [1001] * len(codes)
    assert hub.process.wait(timeout=30) == 0, hub.log()[-3000:]
    for pid, _ in everything:
        assert not Path(f"/proc/{pid}").exists(), f"child {pid} outlived serve"


def test_a_killed_server_process_is_started_again_and_its_connections_stop_counting(serve):
    conversation_id, tokens = pair()
    hub = serve("--no-worker", SERVER_PROCESSES="2")
    first = hub.servers()

    async def scenario() -> float:
        clients, held = await spread_clients(hub.url, tokens, f"conversation:{conversation_id}")
        victim = held[clients[0].connection_id]
        survivors = sum(1 for pid in held.values() if pid != victim)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        # Its connections drop; the metrics forget them (the process is marked dead).
        await asyncio.to_thread(
            scraped_until, hub.port, {("hub_connections", ()): float(survivors)}
        )
        for client in clients:
            await client.close()
        return killed_at

    killed_at = asyncio.run(scenario())
    deadline = time.monotonic() + 30
    while hub.log().count("Listening on TCP address") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"\nkill -9 -> the replacement daphne listening: {time.monotonic() - killed_at:.2f} s")
    replaced = hub.servers()
    assert len(replaced) == 2 and len(replaced & first) == 1
    assert "stopped unexpectedly (signal SIGKILL); starting it again" in hub.log()
    wait_for_http(f"http://127.0.0.1:{hub.port}/healthz", process=hub.process)
    assert hub.process.poll() is None


def test_the_embedded_mode_serves_with_one_process_and_says_why(serve):
    hub = serve("--no-worker", SERVER_PROCESSES="3", REDIS_URL=None, DATABASE_URL=None)
    assert len(hub.servers()) == 1
    log = hub.log()
    assert "Serving with 1 process, not 3: without REDIS_URL" in log
    assert "with 1 server process (" in log


def test_a_child_that_keeps_dying_at_start_stops_the_hub_instead_of_looping(tmp_path):
    failing = Child("server process 1", [sys.executable, "-c", "raise SystemExit(3)"])
    steady = Child("Celery beat", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([failing, steady], metrics_dir=tmp_path, pass_fds=(), give_up_after=2)
    with pytest.raises(GaveUp, match=r"server process 1 stopped 2 times .* \(last: exit code 3\)"):
        supervisor.run(ready=lambda: False, announce=lambda: None)
    assert steady.process is None, "the others were stopped with it"
