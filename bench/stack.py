"""The production stack on loopback, started and stopped by the bench.

Its own PostgreSQL cluster (initdb in a temporary directory, run as the ``postgres`` OS user,
fsync on) and its own Redis (append-only file, no RDB snapshots), on ports of their own, so the
fault drills may restart them without touching the machine's shared servers. Every child runs
in its own process group, and ``Stack.stop`` ends each group it started.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wait_port(port: int, timeout: float = 90.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port (or the child exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:port."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def kill_group(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    """Signal a child's whole process group (it was started in a session of its own)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return


def stop_proc(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """SIGTERM a child's group, then SIGKILL it if it does not exit in time."""
    if proc is None:
        return
    kill_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, signal.SIGKILL)
        proc.wait(5)


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


@dataclass
class Stack:
    """Ports, paths and child processes of one bench run."""

    workdir: Path
    pg_port: int = 25432
    redis_port: int = 26379
    app_ports: tuple[int, ...] = (28001, 28002)
    workers: int = 2
    # Per app server, when they are the waiting-room and booking pools behind nginx.
    pool_workers: tuple[int, ...] = ()
    proxy: str = "none"  # or "nginx": the shipped site in front of the two pools
    proxy_port: int = 28000
    worker_class: str = "sync"
    app_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)

    @property
    def front_ports(self) -> list[int]:
        """Where clients connect: nginx, or (without it) the app servers themselves."""
        return [self.proxy_port] if self.proxy == "nginx" else list(self.app_ports)

    @property
    def booking_port(self) -> int:
        """The app server that answers search and booking: behind nginx, the booking pool.

        What measures the app's own search goes here, past nginx's short cache of public
        availability, which would otherwise answer every repeat of the same search itself.
        """
        return self.app_ports[1] if self.proxy == "nginx" else self.app_ports[0]

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the bench's own database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/fairslot"

    @property
    def dsn(self) -> str:
        """libpq DSN of the bench's own database."""
        return f"host=127.0.0.1 port={self.pg_port} user=postgres dbname=fairslot"

    @property
    def redis_url(self) -> str:
        """URL of the bench's own Redis."""
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _log(self, name: str) -> Any:
        return open(self.workdir / f"{name}.log", "ab")

    def _spawn(self, name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        log = self._log(name)
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        log.close()
        self.procs[name] = proc
        return proc

    # PostgreSQL --------------------------------------------------------------------------

    def init_postgres(self) -> None:
        """initdb a fresh cluster owned by the postgres OS user (the server refuses root)."""
        data = self.workdir / "pgdata"
        user = pwd.getpwnam("postgres")
        os.chown(self.workdir, user.pw_uid, user.pw_gid)
        subprocess.run(
            [
                str(_pg_bin() / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            user="postgres",
        )

    def start_postgres(self) -> None:
        """Start the bench's cluster (fsync on) and wait for it."""
        if port_in_use(self.pg_port):
            raise RuntimeError(f"port {self.pg_port} is already in use")
        self._spawn(
            "postgres",
            [
                str(_pg_bin() / "postgres"),
                "-D",
                str(self.workdir / "pgdata"),
                "-p",
                str(self.pg_port),
                "-k",
                str(self.workdir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=on",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
            ],
            user="postgres",
        )
        wait_port(self.pg_port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(_pg_bin() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.pg_port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("the bench PostgreSQL did not become ready")

    def stop_postgres(self) -> None:
        """Fast shutdown (SIGINT): what a restart by an operator does."""
        proc = self.procs.pop("postgres", None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                kill_group(proc, signal.SIGKILL)
                proc.wait(5)

    def psql(self, sql: str, db: str = "fairslot") -> str:
        """Run SQL with psql against the bench cluster and return its unaligned output."""
        out = subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.pg_port),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    # Redis -------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Start the bench's Redis: append-only file, no snapshots."""
        if port_in_use(self.redis_port):
            raise RuntimeError(f"port {self.redis_port} is already in use")
        self._spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.workdir),
                "--maxclients",
                "2000",
            ],
        )
        wait_port(self.redis_port)

    def stop_redis(self) -> None:
        """SIGTERM Redis (it flushes its append-only file) and wait."""
        stop_proc(self.procs.pop("redis", None), timeout=20)

    # The app -----------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment of the app servers and the worker."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRSLOT_")}
        env.update(
            FAIRSLOT_DATABASE_URL=self.database_url,
            FAIRSLOT_REDIS_URL=self.redis_url,
            FAIRSLOT_INSTANCE_PATH=str(self.workdir / "instance"),
        )
        env.update(self.app_env)
        return env

    def start_app(self, index: int, app: str = "wsgi:app", name: str = "app") -> None:
        """Start gunicorn number ``index`` (no control socket) on its port."""
        port = self.app_ports[index]
        if port_in_use(port):
            raise RuntimeError(f"port {port} is already in use: is an earlier bench still running?")
        proc = self._spawn(
            f"{name}{index}",
            [
                str(BIN / "gunicorn"),
                "--no-control-socket",
                "--workers",
                str(
                    self.pool_workers[index]
                    if name == "app" and self.pool_workers
                    else self.workers
                ),
                "--worker-class",
                self.worker_class,
                "--bind",
                f"127.0.0.1:{port}",
                "--backlog",
                "2048",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
                app,
            ],
            cwd=ROOT,
            env=self.env(),
        )
        wait_port(port, proc=proc)

    def stop_app(self, index: int, sig: int = signal.SIGTERM, name: str = "app") -> None:
        """Stop (or, with SIGKILL, kill) gunicorn number ``index`` and its workers."""
        self._stop(f"{name}{index}", sig)

    def start_proxy(self) -> None:
        """Start nginx with the shipped site in front of app servers 0 (waiting) and 1 (booking).

        Its own prefix in the work directory; as root, it runs as ``nobody`` (no privilege needed
        on a loopback port above 1024), owning that prefix."""
        from bench import nginx

        if port_in_use(self.proxy_port):
            raise RuntimeError(f"port {self.proxy_port} is already in use")
        prefix = self.workdir / "nginx"
        argv = nginx.prepare(prefix, self.app_ports[0], self.app_ports[1], self.proxy_port)
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(prefix, nobody.pw_uid, nobody.pw_gid)
            kwargs = {"user": nobody.pw_uid, "group": nobody.pw_gid}
        wait_port(self.proxy_port, timeout=15, proc=self._spawn("nginx", argv, **kwargs))

    def stop_proxy(self) -> None:
        """Stop nginx (a fast shutdown: SIGTERM)."""
        stop_proc(self.procs.pop("nginx", None))

    def start_worker(self) -> None:
        """Start an RQ worker with its scheduler (``flask --app wsgi worker``)."""
        self._spawn(
            "worker", [str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=self.env()
        )

    def stop_worker(self, sig: int = signal.SIGTERM) -> None:
        """Stop the RQ worker (SIGKILL takes its work horse too: same process group)."""
        self._stop("worker", sig)

    def _stop(self, key: str, sig: int) -> None:
        # SIGKILL goes to the whole process group (gunicorn's workers, RQ's work horse).
        proc = self.procs.pop(key, None)
        if proc is None:
            return
        if sig == signal.SIGKILL:
            kill_group(proc, sig)
            proc.wait(5)
        else:
            stop_proc(proc)

    def flask(self, *args: str) -> None:
        """Run a ``flask --app wsgi`` command against the bench stack."""
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop every child this stack started, apps first, databases last."""
        for name in [n for n in self.procs if n.startswith(("nginx", "app", "bare"))]:
            stop_proc(self.procs.pop(name))
        self.stop_worker()
        self.stop_redis()
        self.stop_postgres()
        for name, proc in list(self.procs.items()):
            stop_proc(proc)
            self.procs.pop(name, None)


def make_workdir() -> Path:
    """A fresh temporary directory for the cluster, the AOF and the logs."""
    path = Path(tempfile.mkdtemp(prefix="fairslot-bench-"))
    path.chmod(0o755)
    return path


def in_process_stack(workdir: Path, port_offset: int, **env: str) -> Stack:
    """The stack for an app run in this process: production settings, a random secret key,
    ``env`` on top. Nothing is started yet (``start_migrated``; ``Stack.stop`` after)."""
    stack = Stack(workdir, pg_port=25432 + port_offset, redis_port=26379 + port_offset)
    stack.app_env = {
        "FAIRSLOT_ENV": "production",
        "FAIRSLOT_SECRET_KEY": secrets.token_urlsafe(32),
        "FAIRSLOT_PUBLIC_URL": "http://127.0.0.1:28001",
        "FAIRSLOT_PRIVATE_NETWORK": "true",  # production settings on loopback
        **env,
    }
    return stack


def start_migrated(stack: Stack) -> None:
    """Start the stack's PostgreSQL and Redis and migrate its database."""
    stack.init_postgres()
    stack.start_postgres()
    stack.psql("CREATE DATABASE fairslot", db="postgres")
    stack.start_redis()
    stack.flask("migrate")


def remove_workdir(path: Path) -> None:
    """Delete the temporary directory (after everything in it has stopped)."""
    shutil.rmtree(path, ignore_errors=True)
