"""Real peers for the reminder tests: an SMTP server and an HTTP receiver on loopback.

Shared by tests/test_reminders*.py; it holds no tests of its own.
"""

import asyncio
import email
import email.policy
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.stack import free_port


class SmtpSink:
    """An SMTP server that keeps what it accepted.

    ``replies`` scripts answers to DATA (e.g. ["451 4.3.0 busy"]);
    ``refuse`` holds addresses refused at RCPT with 550. ``trap_at`` makes the
    n-th DATA wait until ``release`` is set, and then keep the message only
    if the client is still connected to hear the "250" (a real MTA behaves
    the same way when the sender hangs up first).
    """

    def __init__(self):
        self.messages = []
        self.replies: list[str] = []
        self.refuse: set[str] = set()
        self.trap_at: int | None = None
        self.trapped = threading.Event()
        self.release = threading.Event()
        self._seen = 0
        self._lock = threading.Lock()
        self._trapped_server = None
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self._seen += 1
            seen = self._seen
            reply = self.replies.pop(0) if self.replies else None
        if reply is not None:
            return reply
        if self.trap_at is not None and seen == self.trap_at:
            self._trapped_server = server
            self.trapped.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            if server.transport is None or server.transport.is_closing():
                return "451 4.4.0 sender gone"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def trapped_sender_gone(self) -> bool:
        """The sender of the trapped message has hung up, as this server has noticed."""
        server = self._trapped_server
        return server is not None and (server.transport is None or server.transport.is_closing())

    def subjects(self) -> list[tuple[str, str]]:
        """(To, Subject) of each message, with header folding undone."""
        with self._lock:
            return [(m["To"], " ".join(m["Subject"].split())) for m in self.messages]

    def message_ids(self) -> list[str]:
        with self._lock:
            return [m["Message-ID"] for m in self.messages]

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return True
            time.sleep(0.05)
        return len(self.messages) >= count


class WebhookReceiver:
    """An HTTP server that records POSTs and answers with scripted statuses (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(body),
                        "status": status,
                    }
                )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"bad request" if status == 400 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/oncall"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture(settings):
    """A real SMTP server on loopback, and Django's default mailer pointed at it."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = SmtpSink().start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": sink.port, "timeout": 5},
        }
    }
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(name="webhook_receiver")
def webhook_receiver_fixture(settings):
    """A real HTTP receiver on loopback; the operator allows private webhook addresses."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
