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

from bench.nginx import as_invoker
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


ORIGIN_CALLS: dict[str, int] = {}  # path -> how many requests reached a stand-in pool
CALLS_LOCK = threading.Lock()


def _pool(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with CALLS_LOCK:
                calls = ORIGIN_CALLS[self.path] = ORIGIN_CALLS.get(self.path, 0) + 1
            # Like the app: public availability says it may be shared for a moment, the rest
            # says nothing (and an error never says it may be shared).
            shareable = self.path.startswith("/api/v1/clinics") and "error" not in self.path
            if "slow" in self.path:
                time.sleep(0.5)
            body = json.dumps(
                {
                    "calls": calls,
                    "pool": name,
                    "path": self.path,
                    "for": self.headers.get("X-Forwarded-For"),
                    "proto": self.headers.get("X-Forwarded-Proto"),
                    "start": self.headers.get("X-Request-Start"),
                    "request_id": self.headers.get("X-Request-ID"),
                }
            ).encode()
            self.send_response(422 if "error" in self.path else 200)
            if shareable:
                self.send_header("Cache-Control", "public, max-age=30")
            self.send_header("X-Request-ID", self.headers.get("X-Request-ID", ""))
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
    cache_path = "proxy_cache_path /var/cache/nginx-fairslot "
    assert shipped.count(cache_path) == 1
    shipped = shipped.replace(cache_path, f"proxy_cache_path {prefix}/cache ")
    (prefix / "fairslot.conf").write_text(shipped)
    temp = "client_body_temp_path {0}/b; proxy_temp_path {0}/p; fastcgi_temp_path {0}/f; "
    temp += "uwsgi_temp_path {0}/u; scgi_temp_path {0}/s;"
    (prefix / "nginx.conf").write_text(
        f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;"
        f"{as_invoker()}\n"
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


def answer(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as got:
            return got.status, dict(got.headers), dict(json.loads(got.read()))
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), dict(json.loads(refused.read()))


def test_public_availability_is_answered_from_the_cache_with_its_own_request_id(proxy):
    path = "/api/v1/clinics?zip=02115&radius_miles=30&service=covid19"
    first = answer(proxy, path)
    again = answer(proxy, path)
    assert first[2]["calls"] == again[2]["calls"] == ORIGIN_CALLS[path] == 1
    assert (first[1]["X-Cache-Status"], again[1]["X-Cache-Status"]) == ("MISS", "HIT")
    # Each answer names its own request, not the one that filled the cache.
    assert first[1]["X-Request-ID"] == first[2]["request_id"]
    assert again[1]["X-Request-ID"] != first[1]["X-Request-ID"]
    assert correlation.accept_or_make(again[1]["X-Request-ID"]) == again[1]["X-Request-ID"]
    # Another search is another entry; a slot list is cached the same way.
    assert answer(proxy, path + "&date=2026-12-08")[2]["calls"] == 1
    slots = "/api/v1/clinics/3/slots?date=2026-12-08"
    assert [answer(proxy, slots)[2]["calls"] for _ in range(3)] == [1, 1, 1]


def test_a_crowd_asking_the_same_search_at_once_reaches_the_app_once(proxy):
    path = "/api/v1/clinics?zip=02115&slow=1"
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(answer(proxy, path)[2]["calls"]))
        for _ in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1] * 12 and ORIGIN_CALLS[path] == 1


def test_credentials_errors_and_other_paths_always_reach_the_app(proxy):
    path = "/api/v1/clinics?zip=01001"
    with_token = [answer(proxy, path, Authorization="Bearer t")[2]["calls"] for _ in range(2)]
    assert with_token == [1, 2]  # bypassed and not stored...
    assert answer(proxy, path)[2]["calls"] == 3  # ...so the first anonymous one fills it
    assert answer(proxy, path)[2]["calls"] == 3
    error = "/api/v1/clinics?zip=00000&error=1"
    first, second = answer(proxy, error), answer(proxy, error)
    assert (first[0], second[0], second[2]["calls"]) == (422, 422, 2)
    # Nothing outside the availability lists is stored, and the waiting room never is.
    for other in ("/api/v1/holds/abc", "/api/v1/queue/tickets/abc", "/search?zip=02115"):
        before = ORIGIN_CALLS.get(other, 0)
        calls = [fetch(proxy, other)["calls"] for _ in range(2)]
        assert calls == [before + 1, before + 2], other
