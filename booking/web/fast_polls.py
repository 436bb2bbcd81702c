"""Waiting-room status polls answered in a small WSGI layer in front of Flask.

A waiting person's poll is the hottest request in a crowd, and Flask's request machinery
(routing, the before- and after-request hooks, the session, the response object) cost more
than the poll's own work. This layer recognises exactly the two poll routes, a ``GET`` of
``/api/v1/queue/tickets/<ticket>`` and of ``/waiting-room/status.json``, with no query string,
checks the ticket's binding as the views do (the API's, or the id in the browser's signed
session cookie), makes the same single POLL script call, and answers a still-waiting ticket
with the very bytes and headers the view would. Anything else, and every outcome that is not
"still waiting" (admitted, lapsed, unknown, sold out, refused for polling too often, Redis
unreachable), goes on to Flask unchanged; a poll already made travels with the request
(``POLLED``), so Flask does not make it, or count it against the client, a second time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from itsdangerous import BadSignature
from redis.exceptions import RedisError
from werkzeug.exceptions import SecurityError
from werkzeug.http import parse_cookie
from werkzeug.wsgi import get_host

from admission.queue import PollLimited, TicketStatus
from admission.states import TicketState
from booking import correlation
from booking.clock import now_of
from booking.limits import poll_limit_of
from booking.logs import REQUEST_LOG
from booking.web.access import STAFF_COOKIE, request_id
from booking.web.gate import API_BINDING
from booking.web.headers import security_headers
from booking.web.input_guard import STORED_HEADERS
from booking.web.queue_state import inventory_fresh, queue_of
from booking.web.waiting import POLLED, status_body

API_PREFIX = "/api/v1/queue/tickets/"
PAGE_PATH = "/waiting-room/status.json"
# What a ticket id can be (``secrets.token_urlsafe``); anything else is Flask's to refuse.
_TICKET = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The request headers the input guard checks, as WSGI names them.
_STORED = tuple("HTTP_" + name.upper().replace("-", "_") for name in STORED_HEADERS)

Answer = tuple[str, list[tuple[str, str]], bytes]
StartResponse = Callable[..., Any]


class FastPolls:
    """WSGI middleware: answer still-waiting status polls, pass everything else to Flask."""

    def __init__(self, app: Flask, wsgi_app: Callable[[dict[str, Any], StartResponse], Any]):
        self.app = app
        self.wsgi_app = wsgi_app
        self._index_url: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer the request here if it is a poll of a waiting ticket, else through Flask."""
        if (
            self.app.config["FAST_POLLS"]
            and environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING")
            and not environ.get("SCRIPT_NAME")
        ):
            started = time.perf_counter()
            answer = self._answer(environ)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                if self.app.config["REQUEST_LOG"]:
                    self._log(environ, headers, started)
                return [body]
        passed: Iterable[bytes] = self.wsgi_app(environ, start_response)
        return passed

    def _answer(self, environ: dict[str, Any]) -> Answer | None:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(API_PREFIX) and path != PAGE_PATH:
            return None
        if not self._served_host(environ) or any(h in environ for h in _STORED):
            return None  # Flask refuses these (a Host not served, a header the guard checks)
        cookie_header = environ.get("HTTP_COOKIE", "")
        if STAFF_COOKIE in cookie_header:
            return None  # a signed-in staff member polls in their own bucket: Flask knows it
        session: dict[str, Any] | None = None
        if path.startswith(API_PREFIX) and _TICKET.fullmatch(path[len(API_PREFIX) :]):
            ticket, binding = path[len(API_PREFIX) :], API_BINDING
        elif path == PAGE_PATH:
            session = self._session(parse_cookie(cookie_header))
            if session is None or session.get("_permanent"):
                return None
            ticket, binding = session.get("qticket"), session.get("qsid")  # type: ignore[assignment]
            if not isinstance(ticket, str) or not isinstance(binding, str):
                return None
        else:
            return None  # a malformed ticket: Flask's guard and view refuse it
        status = self._poll(environ, ticket, binding)
        if status is None:
            return None
        body = status_body(status)
        if session is not None:
            body["next_url"] = session.get("qnext") or self._home()
        environ.pop(POLLED)  # answered here: Flask will not see this request
        return self._response(environ, body, page=session is not None)

    def _log(self, environ: dict[str, Any], headers: list[tuple[str, str]], started: float) -> None:
        """The request line booking.logs writes for a request Flask answers, with its id."""
        path = environ.get("PATH_INFO", "")
        token = correlation.bind(dict(headers)["X-Request-ID"])
        try:
            REQUEST_LOG.info(
                "GET %s 200",
                path,
                extra={
                    "method": "GET",
                    "path": path,
                    "status": 200,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": environ.get("REMOTE_ADDR"),
                },
            )
        finally:
            correlation.reset(token)

    def _served_host(self, environ: dict[str, Any]) -> bool:
        """Whether Flask would route this Host (its TRUSTED_HOSTS check, as Flask makes it)."""
        if self.app.url_map.host_matching or self.app.subdomain_matching:
            return False  # routes by host: leave that to Flask
        try:
            get_host(environ, self.app.config["TRUSTED_HOSTS"])
        except SecurityError:
            return False
        return True

    def _poll(self, environ: dict[str, Any], ticket: str, binding: str) -> TicketStatus | None:
        """Poll once; the status if this layer can answer it, else None (the poll is kept)."""
        config = self.app.config
        queue = queue_of(self.app)
        moment = now_of(config).timestamp()
        if not inventory_fresh(queue.inventory_seen_at, moment):
            return None  # Flask recounts the free appointments first
        client = environ.get("REMOTE_ADDR") or "127.0.0.1"  # as flask-limiter's address
        try:
            status = queue.poll(
                ticket, now=moment, binding=binding, limit=poll_limit_of(config, client)
            )
        except PollLimited as limited:
            environ[POLLED] = (ticket, binding, limited)
            return None
        except RedisError:
            return None
        environ[POLLED] = (ticket, binding, status)
        try:
            enabled = queue.settings().enabled  # cached by the poll: no second round trip
        except RedisError:
            return None
        if status.state != TicketState.WAITING or status.sold_out or not enabled:
            return None  # the standby link and the queue switched off are Flask's to answer
        return status

    def _session(self, cookies: Any) -> dict[str, Any] | None:
        """The browser's session, read as Flask's session interface reads it."""
        interface = self.app.session_interface
        raw = cookies.get(interface.get_cookie_name(self.app))
        serializer = interface.get_signing_serializer(self.app)  # type: ignore[attr-defined]
        if not raw or serializer is None:
            return None
        max_age = int(self.app.permanent_session_lifetime.total_seconds())
        try:
            data = serializer.loads(raw, max_age=max_age)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def _home(self) -> str:
        if self._index_url is None:
            with self.app.test_request_context():
                from flask import url_for

                self._index_url = url_for("resident.index")
        return self._index_url

    def _response(self, environ: dict[str, Any], body: dict[str, Any], *, page: bool) -> Answer:
        """The bytes and headers Flask's view and after-request hooks would send."""
        app = self.app
        json = app.json
        compact = getattr(json, "compact", None)
        if (compact is None and app.debug) or compact is False:
            text = json.dumps(body, indent=2)
        else:
            text = json.dumps(body, separators=(",", ":"))
        data = f"{text}\n".encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if page:
            headers.append(("Cache-Control", "no-store"))
        # In the order Flask's after-request hooks run (last registered first).
        headers.extend(security_headers(app.config, carries_secret=not page))
        headers.append(("X-Request-ID", request_id(environ.get("HTTP_X_REQUEST_ID", ""))))
        if page:
            headers.append(("Vary", "Cookie"))  # Flask's, for a response that read the session
        return "200 OK", headers, data


def init_app(app: Flask) -> None:
    """Put the layer in front of the app (inside any proxy fix, so addresses are the client's)."""
    app.wsgi_app = FastPolls(app, app.wsgi_app)  # type: ignore[method-assign]
