"""Local message sinks: an SMTP server and a Twilio-like SMS API that record what arrives.

The app's SMTP and SMS settings point here, so every confirmation sent can be counted by
Message-ID / idempotency key and recipient, and a message lost or sent twice shows up. The
tests receive their email with the same SMTP sink.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from collections import Counter
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """aiosmtpd on 127.0.0.1 keeping each email received, parsed, with its envelope.

    While ``hold`` is set, a conversation stops at RCPT TO (before any message data): the sink
    sets ``received`` and waits until ``release`` is set (a sender killed mid-send).
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.lock = threading.Lock()
        self.controller: Any = None
        self.hold = threading.Event()
        self.received = threading.Event()
        self.release = threading.Event()

    def start(self) -> SmtpSink:
        """Start the server thread."""
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if sink.hold.is_set():
                    sink.received.set()
                    while not sink.release.is_set():
                        await asyncio.sleep(0.01)
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink.lock:
                    sink.envelopes.append(envelope)
                    sink.messages.append(cast(EmailMessage, parsed))
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Let any held conversation go on, and stop the server thread."""
        self.release.set()
        if self.controller is not None:
            self.controller.stop()

    def config(self) -> dict[str, Any]:
        """The app's settings that send email here."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_SECURITY": "none"}

    def distinct(self) -> set[str]:
        """Message-IDs received: what a mailbox that drops repeated Message-IDs would show."""
        with self.lock:
            return {str(m["Message-ID"]) for m in self.messages}

    def _deliveries(self) -> list[tuple[str, str]]:
        """(Message-ID, recipient) of each email delivered to each recipient."""
        with self.lock:
            return [
                (str(message["Message-ID"]), rcpt.lower())
                for message, envelope in zip(self.messages, self.envelopes, strict=True)
                for rcpt in envelope.rcpt_tos
            ]

    def counts(self) -> Counter[str]:
        """Deliveries per recipient."""
        return Counter(rcpt for _, rcpt in self._deliveries())

    def duplicate_ids(self) -> int:
        """Emails that arrived more than once with the same Message-ID."""
        ids = Counter(mid for mid, _ in self._deliveries())
        return sum(n - 1 for n in ids.values() if n > 1)

    def clear(self) -> None:
        """Forget what arrived (between scenarios)."""
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()


class SmsSink:
    """A Twilio-compatible Messages endpoint keeping (idempotency key, recipient) per POST."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                key = self.headers.get("Idempotency-Key") or ""
                with sink.lock:
                    sink.received.append((key, form.get("To", "")))
                    sid = f"SM{len(sink.received):032d}"
                data = json.dumps({"sid": sid, "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{port}/2010-04-01/Accounts/AC1/Messages.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> SmsSink:
        """Start the server thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> Counter[str]:
        """Distinct deliveries per recipient (a provider drops a repeated idempotency key)."""
        with self.lock:
            return Counter(to for _, to in set(self.received))

    def duplicate_ids(self) -> int:
        """Requests repeating an idempotency key already delivered."""
        with self.lock:
            return sum(n - 1 for n in Counter(k for k, _ in self.received).values() if n > 1)

    def clear(self) -> None:
        """Forget what arrived (between scenarios)."""
        with self.lock:
            self.received.clear()
