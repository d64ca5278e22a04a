"""Stripe for the tests: localstripe (a stateful fake Stripe server) run as a child process,
and a recording server for the calls localstripe does not know (Connect).

The conftest's `localstripe` fixture starts one server per test process (xdist worker),
each on its own loopback port with its state in memory only (tests/localstripe_launch.py);
`stripe_backend` points this process's settings at it.
"""

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

from tests.live import ROOT, child_env, free_port, stop

SECRET_KEY = "sk_test_localstripe"

# Test cards localstripe knows (its resources.py): charged fine; attaches but is declined
# when charged (card_declined, 402); asks for 3-D Secure.
CARD_OK = "4242424242424242"
CARD_DECLINED_ON_CHARGE = "4000000000000341"
CARD_NEEDS_AUTHENTICATION = "4000002500003155"


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with {process.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"localstripe did not listen on {port} within {timeout} s")


class LocalStripe:
    """A running localstripe: its address, and a stripe-python client speaking to it as
    a browser (Stripe.js) or a test would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.TemporaryDirectory(prefix="localstripe-")
        self.log = open(f"{self._tmp.name}/localstripe.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "tests/localstripe_launch.py", "--port", str(self.port)],
            cwd=ROOT,
            # Its own temp folder too, should anything in it still write there.
            env=child_env(TMPDIR=self._tmp.name),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            self.stop()
            raise
        self.client = stripe.StripeClient(
            SECRET_KEY, base_addresses={"api": self.url}, max_network_retries=0
        )

    def stop(self) -> None:
        stop(self.process)
        self.log.close()
        self._tmp.cleanup()

    def card(self, number: str = CARD_OK) -> str:
        """A PaymentMethod id for a test card, as Stripe.js makes one in the browser."""
        return self.client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        ).id

    def intent(self, intent_id: str):
        return self.client.v1.payment_intents.retrieve(intent_id)

    def confirm_in_browser(self, intent_id: str, number: str = CARD_OK):
        """What Stripe.js does with the client secret: set the card, then confirm.
        (localstripe refuses `confirm` with a payment_method, so it is set first.)"""
        pm = self.card(number)
        self.client.v1.payment_intents.update(intent_id, params={"payment_method": pm})
        return self.client.v1.payment_intents.confirm(intent_id)

    def confirm_setup_in_browser(self, setup_intent_id: str, number: str = CARD_OK):
        return self.client.v1.setup_intents.confirm(
            setup_intent_id, params={"payment_method": self.card(number)}
        )

    def webhook_register(self, name: str, *, url: str, secret: str) -> None:
        """Have localstripe POST its (signed) events to `url` (held in memory only)."""
        body = json.dumps({"url": url, "secret": secret}).encode()
        request = urllib.request.Request(
            f"{self.url}/_config/webhooks/{name}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


# --- the recording server (for what localstripe lacks) ------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class RecordingStripe:
    """A loopback HTTP server that records each request stripe-python sends (method, path,
    the form fields exactly as encoded, headers) and answers with the recorded Stripe object
    given for its path: `answers[("POST", "/v1/accounts")] = (200, {...})`."""

    answers: dict[tuple[str, str], tuple[int, dict]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path, _, query = self.path.partition("?")
                form = dict(urllib.parse.parse_qsl(body or query, keep_blank_values=True))
                recorder.requests.append(
                    Recorded(self.command, path, form, {k: v for k, v in self.headers.items()})
                )
                status, payload = recorder.answers.get(
                    (self.command, path),
                    (404, {"error": {"type": "invalid_request_error", "message": "unknown"}}),
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lesson_ended(booking) -> None:
    """Move a booked lesson (and its held time) into the past, as if it had taken place."""
    from django.db.models import F
    from django.utils import timezone

    from bookings.models import Booking

    delta = booking.end - timezone.now() + timedelta(hours=1)
    Booking.objects.filter(pk=booking.pk).update(
        start=F("start") - delta,
        end=F("end") - delta,
        hold_start=F("hold_start") - delta,
        hold_end=F("hold_end") - delta,
    )


class GatedProxy:
    """A loopback proxy to localstripe that holds the first request to `path` until the test
    opens the gate: an authorisation call still in flight while the test does something else."""

    def __init__(self, target: str, *, path: str = "/v1/payment_intents") -> None:
        self.arrived, self.gate = threading.Event(), threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and self.path == path and not proxy.arrived.is_set():
                    proxy.arrived.set()
                    proxy.gate.wait(30)
                keep = ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version")
                headers = {k: v for k, v in self.headers.items() if k in keep}
                request = urllib.request.Request(
                    target + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, data = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, data = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def wait_until(check, timeout: float = 20.0):
    """Poll `check` until it returns something true (work a Celery worker does meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s: {check}")
