"""A Redis primary, its replica and three sentinels on loopback ports, for failover drills.

Used by the failover test (tests/ops) and the drill (bench/failover_redis.py). Every process is
this object's own, on ports it picks, in a temporary directory; ``stop`` ends them all.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

SERVICE = "fairslot"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> bool:
    """Whether redis-server and redis-sentinel are installed."""
    return bool(shutil.which("redis-server") and shutil.which("redis-sentinel"))


class SentinelCluster:
    """One primary, one asynchronous replica and three sentinels watching them (quorum 2)."""

    def __init__(self, *, down_after_ms: int = 1000) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fairslot-sentinel-"))
        self.down_after_ms = down_after_ms
        self.primary_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        """The sentinels' addresses, as FAIRSLOT_REDIS_SENTINELS holds them."""
        return tuple(("127.0.0.1", port) for port in self.sentinel_ports)

    @property
    def sentinels_setting(self) -> str:
        """The sentinels as the environment variable's text."""
        return ",".join(f"{host}:{port}" for host, port in self.sentinels)

    def _server(self, port: int, *extra: str) -> None:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.dir), *extra]
        self.processes[port] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: client(port).ping(), f"redis-server on {port}")

    def start(self) -> SentinelCluster:
        """Start the servers and the sentinels; return once all sentinels see the whole set."""
        self._server(self.primary_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        for port in self.sentinel_ports:
            conf = self.dir / f"sentinel-{port}.conf"
            # A sentinel rewrites its file as it learns the set, so each has its own.
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self.processes[port] = subprocess.Popen(
                ["redis-sentinel", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        wait_until(self._complete, "the sentinels to see the primary, the replica and each other")
        wait_until(self._replica_in_sync, "the replica to sync")
        return self

    def _complete(self) -> bool:
        for port in self.sentinel_ports:
            state = client(port).sentinel_master(SERVICE)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    def _replica_in_sync(self) -> bool:
        info = client(self.replica_port).info("replication")
        return bool(info.get("master_link_status") == "up")

    def primary(self) -> tuple[str, int]:
        """The primary as the first sentinel reports it now."""
        host, port = client(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(SERVICE)
        return str(host), int(port)

    def kill_primary(self) -> int:
        """Kill the primary for good (SIGKILL: no goodbye to anyone); return its port."""
        port = self.primary()[1]
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return port

    def wait_failover(self, old_port: int, timeout: float = 60) -> int:
        """Wait until every sentinel names a new primary that answers as one; return its port."""

        def promoted() -> bool:
            ports = {
                client(p).sentinel_get_master_addr_by_name(SERVICE)[1] for p in self.sentinel_ports
            }
            if len(ports) != 1 or int(next(iter(ports))) == old_port:
                return False
            role = client(int(next(iter(ports)))).info("replication")["role"]
            return bool(role == "master")

        wait_until(promoted, "a new primary", timeout=timeout)
        return self.primary()[1]

    def stop(self) -> None:
        """Stop every process this cluster started and remove its directory."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SentinelCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def client(port: int) -> Any:
    """A short-timeout client of one loopback server or sentinel."""
    return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)


def wait_until(check: Any, what: str, timeout: float = 30) -> None:
    """Poll ``check`` until it returns true (errors count as not yet); raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")
