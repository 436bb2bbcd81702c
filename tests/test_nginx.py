"""The shipped nginx config routes the waiting room and booking to their own pools.

Starts the real nginx on loopback (a private prefix, no root) with ``deploy/nginx/fairslot.conf``
pointed at two tiny HTTP servers standing in for the two gunicorn pools, each answering with its
name and the forwarding headers it received.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from booking import correlation
from booking.web.booking_health import queued_seconds

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.backend_free  # real nginx and stand-in pools: no test backend
CONFIG = ROOT / "deploy" / "nginx" / "fairslot.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pool(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {
                    "pool": name,
                    "path": self.path,
                    "for": self.headers.get("X-Forwarded-For"),
                    "proto": self.headers.get("X-Forwarded-Proto"),
                    "start": self.headers.get("X-Request-Start"),
                    "request_id": self.headers.get("X-Request-ID"),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx on a free loopback port in front of the two stand-in pools."""
    if not os.path.exists(NGINX):
        if os.environ.get("CI"):
            pytest.fail("CI: nginx is missing; .ci/run must install it")
        pytest.skip("nginx is not installed (set CI to make this a failure)")
    waiting, booking = _pool("waiting"), _pool("booking")
    port = _free_port()
    shipped = CONFIG.read_text()
    for old, new in (
        ("127.0.0.1:8001", f"127.0.0.1:{waiting.server_port}"),
        ("127.0.0.1:8002", f"127.0.0.1:{booking.server_port}"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
    ):
        assert old in shipped, old
        shipped = shipped.replace(old, new)
    prefix = tmp_path_factory.mktemp("nginx")
    (prefix / "logs").mkdir()
    (prefix / "fairslot.conf").write_text(shipped)
    temp = "client_body_temp_path {0}/b; proxy_temp_path {0}/p; fastcgi_temp_path {0}/f; "
    temp += "uwsgi_temp_path {0}/u; scgi_temp_path {0}/s;"
    (prefix / "nginx.conf").write_text(
        f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{ access_log off; {temp.format(prefix)} include {prefix}/fairslot.conf; }}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"nginx did not start: {error}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        waiting.shutdown()
        booking.shutdown()


def fetch(port: int, path: str, **headers: str) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return dict(json.loads(answer.read()))


@pytest.mark.parametrize(
    ("path", "pool"),
    [
        ("/waiting-room", "waiting"),
        ("/waiting-room?next=/clinics/3", "waiting"),
        ("/waiting-room/status", "waiting"),
        ("/waiting-room/status.json", "waiting"),
        ("/api/v1/queue/tickets", "waiting"),
        ("/api/v1/queue/tickets/abc", "waiting"),
        ("/", "booking"),
        ("/search?zip=02115", "booking"),
        ("/slots/1/hold", "booking"),
        ("/book/abc", "booking"),
        ("/manage", "booking"),
        ("/api/v1/holds", "booking"),
        ("/api/v1/clinics", "booking"),
        ("/staff/sign-in", "booking"),
        ("/admin/queue", "booking"),  # the admins' queue page is not the waiting room
        ("/waiting-roomx", "booking"),
        ("/static/fairslot.css", "booking"),
    ],
)
def test_each_path_goes_to_its_pool(proxy, path, pool):
    answer = fetch(proxy, path)
    assert (answer["pool"], answer["path"]) == (pool, path)


def test_the_client_address_and_start_stamp_are_nginxs_own(proxy):
    forged = fetch(proxy, "/api/v1/holds", **{"X-Forwarded-For": "6.6.6.6"})
    # The app (FAIRSLOT_PROXY_COUNT=1) takes the last entry: the address nginx saw.
    assert forged["for"].split(", ")[-1] == "127.0.0.1"
    assert forged["proto"] == "http"
    before = time.time() - 0.001  # nginx's $msec is in whole milliseconds
    stamped = fetch(proxy, "/", **{"X-Request-Start": "t=1"})
    after = time.time()
    assert stamped["start"].startswith("t=")
    assert before <= float(stamped["start"][2:]) <= after  # nginx's own, not the client's
    assert queued_seconds(stamped["start"], after) <= after - before


def test_each_request_gets_nginxs_own_request_id(proxy):
    forged = fetch(proxy, "/api/v1/holds", **{"X-Request-ID": "chosen-by-the-client"})
    again = fetch(proxy, "/api/v1/holds", **{"X-Request-ID": "chosen-by-the-client"})
    ids = {forged["request_id"], again["request_id"]}
    assert len(ids) == 2 and "chosen-by-the-client" not in ids
    assert all(correlation.accept_or_make(i) == i for i in ids)  # the app keeps them
