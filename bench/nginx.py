"""nginx in front of the bench's two gunicorn pools, with the shipped site config.

The bench does not keep a config of its own: it reads ``deploy/nginx/fairslot.conf`` and only
substitutes the loopback ports it picked for the two pools and for nginx itself, so every bench
run exercises the file an operator installs. The pure parts (the substitution, the pool split)
are tested in tests/test_bench.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx" / "fairslot.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# What the shipped file says, replaced by the ports the bench picked.
WAITING_UPSTREAM = "server 127.0.0.1:8001;"
BOOKING_UPSTREAM = "server 127.0.0.1:8002;"
LISTEN = "listen 80;"
CACHE_PATH = "proxy_cache_path /var/cache/nginx-fairslot "


def site_config(
    shipped: str, *, waiting_port: int, booking_port: int, listen_port: int, cache_dir: Path
) -> str:
    """The shipped site with the bench's ports and cache directory; refuses moved markers."""
    for marker in (WAITING_UPSTREAM, BOOKING_UPSTREAM, LISTEN, CACHE_PATH):
        if shipped.count(marker) != 1:
            raise ValueError(f"the shipped nginx config must contain {marker!r} exactly once")
    return (
        shipped.replace(WAITING_UPSTREAM, f"server 127.0.0.1:{waiting_port};")
        .replace(BOOKING_UPSTREAM, f"server 127.0.0.1:{booking_port};")
        .replace(LISTEN, f"listen 127.0.0.1:{listen_port} backlog=4096;")
        .replace(CACHE_PATH, f"proxy_cache_path {cache_dir} ")
    )


def main_config(prefix: Path, site: Path, connections: int = 8192) -> str:
    """nginx.conf for an unprivileged nginx under ``prefix`` that includes ``site``."""
    temp = " ".join(
        f"{kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off; pid {prefix}/nginx.pid; error_log stderr warn;{as_invoker()}\n"
        f"worker_processes 1; worker_rlimit_nofile {2 * connections + 64};\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{ access_log off; {temp} include {site}; }}\n"
    )


def as_invoker() -> str:
    """nginx's ``user`` line for a master started as root: its workers write the cache there.

    Started by root, nginx runs its workers as ``nobody``, which may not write into a private
    temporary directory; started by anyone else, it runs them as that user (and the line would
    only earn a warning).
    """
    return " user root;" if os.geteuid() == 0 else ""


def pool_split(total: int, waiting: int = 0, booking: int = 0) -> tuple[int, int]:
    """Workers of the waiting-room and booking pools: the profile's, else a third and the rest.

    A poll is one Lua call on the fast path and a join one short script, while a booking step
    runs several SQL statements with a commit; so the booking pool gets two thirds of the
    workers, and each pool at least one.
    """
    if waiting < 0 or booking < 0 or total < 2:
        raise ValueError("pools need at least one worker each")
    if not waiting:
        waiting = max(1, round(total / 3)) if not booking else max(1, total - booking)
    if not booking:
        booking = max(1, total - waiting)
    return waiting, booking


def parse_split(text: str) -> tuple[int, int]:
    """``"1,3"`` -> (1, 3): the waiting-room and booking pools' workers, at least one each."""
    try:
        waiting, booking = (int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"a pool split is WAITING,BOOKING workers, not {text!r}") from None
    if waiting < 1 or booking < 1:
        raise ValueError(f"each pool needs at least one worker, not {text!r}")
    return waiting, booking


def prepare(prefix: Path, waiting_port: int, booking_port: int, listen_port: int) -> list[str]:
    """Write nginx.conf and the substituted site under ``prefix``; nginx's command line."""
    prefix.mkdir(exist_ok=True)
    site = prefix / "fairslot.conf"
    ports = {"waiting_port": waiting_port, "booking_port": booking_port}
    site.write_text(
        site_config(SITE.read_text(), **ports, listen_port=listen_port, cache_dir=prefix / "cache")
    )
    (prefix / "nginx.conf").write_text(main_config(prefix, site))
    return [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]


def version() -> str:
    """``nginx -v`` (it prints to stderr), or why there is none."""
    try:
        out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"unavailable ({exc})"
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")
