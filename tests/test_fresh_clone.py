"""`make demo` from a fresh clone: venv, migrations, seed, and a server that answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


@pytest.mark.slow
@pytest.mark.backend_free  # the demo always runs on its own SQLite file and fakeredis
def test_make_demo_from_a_fresh_clone(tmp_path):
    if subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True
    ).returncode:
        pytest.skip("not a git checkout")
    clone = tmp_path / "fairslot"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRSLOT_")}
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        ["make", "demo", f"DEMO_PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/readyz")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((tmp_path / "demo.log").read_text()[-3000:])
                time.sleep(1)
        assert status == 200
        status, page = _get(f"http://127.0.0.1:{port}/search?zip=02115")
        assert status == 200
        assert "Fenway Park" in page
        output = (tmp_path / "demo.log").read_text()
        assert f"http://127.0.0.1:{port}/" in output
        assert "Look up a booking" in output
        assert (clone / ".venv" / "bin" / "python").exists()
        assert (clone / "instance" / "fairslot.sqlite3").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
