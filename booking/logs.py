"""Log output: one JSON object per line (production) or plain text, each with the request id.

Every request also logs one ``fairslot.request`` line when it is answered: method, path (never
the query string), status, duration and the client address the app trusts (after
``FAIRSLOT_PROXY_COUNT``). The response carries the id back in ``X-Request-ID``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

from booking import correlation

REQUEST_LOG = logging.getLogger("fairslot.request")
_HANDLER = "fairslot"
# The attributes every LogRecord has; anything else was passed in ``extra`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "request_id"}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id (None outside a request or a send)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``request_id``; never drop the record."""
        record.request_id = correlation.current()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (newlines inside values are escaped by JSON)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(log_format: str) -> None:
    """Send the root logger's output to stderr as ``json`` or ``text``, at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    # Replace only our own handler (an app built twice logs once); others stay, such as a
    # test runner's capture or a host's own.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER] + [handler]
    root.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    """Give each request its id (bound for its log lines), echo it, and log the answer."""

    @app.before_request
    def _bind_request_id() -> None:
        g.request_id = correlation.accept_or_make(request.headers.get(correlation.HEADER))
        g.request_id_token = correlation.bind(g.request_id)
        g.request_started = time.perf_counter()

    log_requests = bool(app.config["REQUEST_LOG"])

    @app.after_request
    def _log_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is None:  # a request refused before the hooks ran
            return response
        response.headers[correlation.HEADER] = request_id
        if not log_requests:
            return response
        REQUEST_LOG.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
                "client": request.remote_addr,
            },
        )
        return response

    @app.teardown_request
    def _unbind_request_id(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            try:
                correlation.reset(token)
            except ValueError:  # torn down in another context (a streamed response's end)
                correlation.bind(None)
