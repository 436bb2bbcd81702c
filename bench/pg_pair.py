"""A PostgreSQL primary and its streaming replica on loopback ports, for the failover drill.

Two clusters of this object's own (initdb and pg_basebackup as the ``postgres`` OS user, which
the server requires), in a temporary directory, on ports it picks; ``stop`` ends both.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.sentinel_cluster import free_port
from bench.stack import _pg_bin


class PgPair:
    """A primary and one streaming replica; the replica can be promoted when the primary dies."""

    def __init__(self, *, synchronous: bool) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fairslot-pgpair-"))
        self.dir.chmod(0o755)
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.synchronous = synchronous
        self.primary_port, self.replica_port = free_port(), free_port()
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def url(self, db: str = "fairslot") -> str:
        """The app's URL: both hosts, and only the one that takes writes (libpq multi-host)."""
        hosts = "&".join(f"host=127.0.0.1:{p}" for p in (self.primary_port, self.replica_port))
        return f"postgresql+psycopg://postgres@/{db}?{hosts}&target_session_attrs=read-write"

    def direct(self, port: int, db: str = "postgres") -> str:
        """A libpq DSN of one server."""
        return f"host=127.0.0.1 port={port} user=postgres dbname={db}"

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True, user="postgres", timeout=120)

    def _start(self, port: int, data: Path, *, primary: bool) -> None:
        # The replica has no standby of its own: once promoted, a synchronous_standby_names
        # left set would make every commit wait forever for a replica that is not there.
        standbys = "*" if self.synchronous and primary else ""
        with open(self.dir / f"pg-{port}.log", "ab") as log:
            self.processes[port] = subprocess.Popen(
                [str(_pg_bin() / "postgres"), "-D", str(data), "-p", str(port), "-k", str(self.dir),
                 "-c", "listen_addresses=127.0.0.1", "-c", "wal_level=replica",
                 "-c", "max_wal_senders=5", "-c", "hot_standby=on", "-c", "max_connections=200",
                 "-c", f"synchronous_standby_names={standbys}"],
                stdout=log, stderr=subprocess.STDOUT, user="postgres", start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.direct(port), connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL on {port} did not start (see {self.dir})")

    def start(self) -> PgPair:
        """initdb and start the primary, copy it to the replica and start streaming."""
        primary, replica = self.dir / "primary", self.dir / "replica"
        self._run(str(_pg_bin() / "initdb"), "-D", str(primary), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8")  # fmt: skip
        self._start(self.primary_port, primary, primary=True)
        self._run(str(_pg_bin() / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                  str(self.primary_port), "-U", "postgres", "-D", str(replica), "-R",
                  "-X", "stream")  # fmt: skip
        self._start(self.replica_port, replica, primary=False)
        with psycopg.connect(self.direct(self.primary_port), autocommit=True) as c:
            deadline = time.monotonic() + 60
            while not c.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()[0]:  # type: ignore[index]
                if time.monotonic() > deadline:
                    raise RuntimeError("the replica did not start streaming")
                time.sleep(0.2)
            c.execute("CREATE DATABASE fairslot")
        return self

    def set_synchronous(self, on: bool) -> None:
        """Switch synchronous commit to the replica on the primary (takes effect at once)."""
        with psycopg.connect(self.direct(self.primary_port), autocommit=True) as c:
            c.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{'*' if on else ''}'")
            c.execute("SELECT pg_reload_conf()")
        self.synchronous = on

    def kill_primary(self) -> None:
        """SIGKILL the primary's whole process group: the server is gone, no shutdown."""
        process = self.processes.pop(self.primary_port)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def promote(self) -> None:
        """Promote the replica (what an operator, or Patroni, does after the primary dies)."""
        self._run(str(_pg_bin() / "pg_ctl"), "promote", "-w", "-D", str(self.dir / "replica"))

    def stop(self) -> None:
        """Stop both servers and remove the directory."""
        for process in self.processes.values():
            process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgPair:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
