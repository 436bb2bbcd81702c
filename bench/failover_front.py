"""The failover drills' crowd through nginx: two gunicorn pools behind the shipped site.

``Front`` serves the drill's app as production does (bench/stack.py's layout: nginx with
``deploy/nginx/fairslot.conf``, a waiting-room pool and a booking pool, ``FAIRSLOT_PROXY_COUNT=2``
and ``FAIRSLOT_TRUST_REQUEST_START=true``) on loopback ports it picks, with the drill's own
environment (its Sentinel set or multi-host database URL). Its ``test_client()`` returns an HTTP
client with the few methods of Flask's test client the drill's residents use, so the same
resident code (bench/failover_crowd.py) runs in process or over HTTP through nginx.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from bench.sinks import free_port
from bench.stack import Stack, make_workdir, remove_workdir

# What a browser or an app waits for one answer before it counts it a failure.
TIMEOUT_S = 10.0


class Response:
    """An HTTP answer with the parts of Flask's test response the drill reads."""

    def __init__(self, raw: requests.Response) -> None:
        self.status_code = raw.status_code
        self.headers = raw.headers
        self._raw = raw

    def get_json(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        try:
            return self._raw.json()
        except ValueError:
            return None

    def get_data(self, as_text: bool = False) -> Any:
        """The body, as text or bytes."""
        return self._raw.text if as_text else self._raw.content


class Client:
    """One resident's HTTP session (cookies kept), sending its address as X-Forwarded-For."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        # The address the drill gives each resident, as on Flask's test client.
        self.environ_base: dict[str, str] = {}

    def _send(self, method: str, path: str, **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", None) or {})
        address = self.environ_base.get("REMOTE_ADDR")
        if address:  # the load balancer in front of nginx; nginx appends loopback
            headers["X-Forwarded-For"] = address
        raw = self.session.request(
            method,
            self.base + path,
            headers=headers,
            allow_redirects=False,  # as the test client: the drill reads each Location
            timeout=TIMEOUT_S,
            **kwargs,
        )
        return Response(raw)

    def get(self, path: str, **kwargs: Any) -> Response:
        """GET ``path``."""
        return self._send("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        """POST ``path`` (``data=`` a form, ``json=`` a body)."""
        return self._send("POST", path, **kwargs)


class _DrillStack(Stack):
    """The bench's Stack, but with the drill's environment only (no bench database/Redis)."""

    def env(self) -> dict[str, str]:
        """The machine's environment less any FAIRSLOT_*, then the drill's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRSLOT_")}
        env["FAIRSLOT_INSTANCE_PATH"] = str(self.workdir / "instance")
        env.update(self.app_env)
        return env


class Front:
    """nginx and two gunicorn pools serving the drill's app; ``stop`` ends them all."""

    def __init__(self, env: dict[str, str], pools: tuple[int, int] = (1, 3)) -> None:
        self.stack = _DrillStack(
            make_workdir(),  # world-readable: nginx runs as nobody under it
            app_ports=(free_port(), free_port()),
            pool_workers=pools,
            proxy="nginx",
            proxy_port=free_port(),
        )
        self.stack.app_env = {
            **env,
            "FAIRSLOT_SESSION_COOKIE_SECURE": "false",  # plain http on loopback
            "FAIRSLOT_PROXY_COUNT": "2",
            "FAIRSLOT_TRUST_REQUEST_START": "true",
        }

    @property
    def url(self) -> str:
        """Where the residents connect: nginx."""
        return f"http://127.0.0.1:{self.stack.proxy_port}"

    def start(self) -> Front:
        """Start both pools, then nginx in front of them."""
        for index in range(len(self.stack.app_ports)):
            self.stack.start_app(index)
        self.stack.start_proxy()
        return self

    def stop(self) -> None:
        """Stop nginx and the pools and delete their directory."""
        try:
            self.stack.stop()
        finally:
            remove_workdir(self.stack.workdir)

    def test_client(self) -> Client:
        """A new resident's HTTP client (the name the drill's code calls on a Flask app)."""
        return Client(self.url)

    def count_logged(self, text: str) -> int:
        """How many times the pools logged ``text`` (the app logs to stderr, kept in files)."""
        return sum(
            path.read_text(errors="replace").count(text)
            for path in self.stack.workdir.glob("app*.log")
        )
