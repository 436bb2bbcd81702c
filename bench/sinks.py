"""Local message sinks: an SMTP server and a Twilio-like SMS API that record what arrives.

Modelled on the test helpers (tests/jobs_support.py): the app's SMTP and SMS settings point
here, so every confirmation sent can be counted by Message-ID / idempotency key and recipient,
and a message lost or sent twice shows up.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SmtpSink:
    """aiosmtpd on 127.0.0.1 keeping (Message-ID, recipient) of each email received."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.controller: Any = None

    def start(self) -> SmtpSink:
        """Start the server thread."""
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink.lock:
                    for rcpt in envelope.rcpt_tos:
                        sink.received.append((str(parsed["Message-ID"]), rcpt.lower()))
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop the server thread."""
        if self.controller is not None:
            self.controller.stop()

    def counts(self) -> Counter[str]:
        """Deliveries per recipient."""
        with self.lock:
            return Counter(rcpt for _, rcpt in self.received)

    def duplicate_ids(self) -> int:
        """Emails that arrived more than once with the same Message-ID."""
        with self.lock:
            return sum(n - 1 for n in Counter(mid for mid, _ in self.received).values() if n > 1)

    def clear(self) -> None:
        """Forget what arrived (between scenarios)."""
        with self.lock:
            self.received.clear()


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
