"""A real SMTP server for tests, in threads: it records what it accepts, and can refuse
a recipient, refuse a message by its subject, or stall (never answer DATA).

Only what the server answered 250 to after the message counts as received, as for
any SMTP client: a message whose sender vanished mid-conversation was never accepted.
"""

import socketserver
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header


@dataclass(frozen=True)
class Received:
    to: tuple[str, ...]
    subject: str
    body: str
    at: float = field(default_factory=time.monotonic)  # when it was accepted


class _Session(socketserver.StreamRequestHandler):
    server: "_Server"

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        owner = self.server.owner
        self.reply("220 localhost test SMTP")
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("HELO", "EHLO"):
                self.reply("250 localhost")
            elif verb in ("MAIL", "RSET"):
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.partition("<")[2].partition(">")[0]
                if address in owner.refused_recipients:
                    self.reply("550 No such user here")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                owner.hold_if_stalling()
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                if data is None:  # the client went away before the end: nothing accepted
                    return
                self.reply(owner.take(recipients, data))
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK" if verb == "NOOP" else "502 Not implemented")

    def read_data(self) -> bytes | None:
        lines = []
        while (line := self.rfile.readline()) != b".\r\n":
            if not line:
                return None
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: "SmtpServer"):
        super().__init__(("127.0.0.1", 0), _Session)
        self.owner = owner

    def handle_error(self, request, client_address) -> None:
        """A client killed mid-conversation is what the drills do: not an error here."""


class SmtpServer:
    """Start with `with SmtpServer() as smtp:`; `smtp.port` is where it listens."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused_recipients: set[str] = set()
        self.refused_subjects: set[str] = set()  # a message whose subject holds one: 554
        self.stall_after: int | None = None  # once this many are accepted, DATA stalls
        self.stalled = threading.Event()  # a client waits on a stalled DATA
        self._resume = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "SmtpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.answer_normally()
        self._server.shutdown()
        self._server.server_close()

    def answer_normally(self) -> None:
        """Stop stalling, and let go of any stalled conversation."""
        self.stall_after = None
        self._resume.set()

    def hold_if_stalling(self) -> None:
        with self._lock:
            stall = self.stall_after is not None and len(self.received) >= self.stall_after
        if stall:
            self.stalled.set()
            self._resume.wait()

    def take(self, recipients: list[str], data: bytes) -> str:
        message = message_from_bytes(data)
        subject = str(make_header(decode_header(message.get("Subject", ""))))
        if any(refused in subject for refused in self.refused_subjects):
            return "554 Message refused"
        body = message.get_payload(decode=True) or b""
        with self._lock:
            self.received.append(
                Received(tuple(recipients), subject, body.decode("utf-8", "replace"))
            )
        return "250 OK: queued"

    def count(self, to: str, subject: str) -> int:
        with self._lock:
            return sum(1 for r in self.received if r.to == (to,) and r.subject == subject)
