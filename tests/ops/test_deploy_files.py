"""The shipped deploy files: systemd units that systemd itself accepts, with the sandbox and the
restart policy the runbook promises, and a backup script that is valid shell."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
# What every long-running unit must say (the sandbox and supervision).
REQUIRED = {
    "Restart": "on-failure",
    "ProtectSystem": "strict",
    "NoNewPrivileges": "yes",
    "User": "fairslot",
    "EnvironmentFile": "/etc/fairslot/fairslot.env",
}
LONG_RUNNING = ("fairslot-waiting.service", "fairslot-booking.service", "fairslot-worker@.service")


def service_section(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return dict(parser["Service"])


def unit_copies(tmp_path: Path) -> list[Path]:
    """The units, with /opt/fairslot pointed at stand-in executables (verify checks they exist)."""
    opt = tmp_path / "opt" / "fairslot"
    for name in (".venv/bin/gunicorn", ".venv/bin/flask", "deploy/backup/fairslot-backup"):
        stub = opt / name
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    out = tmp_path / "units"
    out.mkdir()
    copies = []
    for unit in sorted(UNITS.glob("fairslot*.service")) + sorted(UNITS.glob("*.timer")):
        copy = out / unit.name
        copy.write_text(unit.read_text().replace("/opt/fairslot", str(opt)))
        copies.append(copy)
    return copies


def verify(paths: list[Path]) -> str:
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    return (result.stdout + result.stderr).strip()


@pytest.fixture
def analyze():
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs systemd")
        pytest.skip("systemd-analyze is not installed")


@pytest.mark.parametrize("unit", LONG_RUNNING)
def test_each_pool_and_worker_is_sandboxed_and_restarted(unit):
    service = service_section(UNITS / unit)
    assert {key: service.get(key) for key in REQUIRED} == REQUIRED
    assert service["CapabilityBoundingSet"] == ""  # no capabilities at all


def test_systemd_accepts_every_unit_and_notices_a_broken_one(analyze, tmp_path):
    copies = unit_copies(tmp_path)
    assert {c.name for c in copies} >= {*LONG_RUNNING, "fairslot-backup.timer"}
    assert verify(copies) == ""
    broken = copies[0]
    broken.write_text(broken.read_text().replace("ProtectSystem=strict", "ProtectSystem=mostly"))
    assert "protect system" in verify([broken]).lower()


def test_the_backup_script_is_valid_shell():
    result = subprocess.run(
        ["bash", "-n", str(ROOT / "deploy" / "backup" / "fairslot-backup")], capture_output=True
    )
    assert result.returncode == 0, result.stderr
    assert os.access(ROOT / "deploy" / "backup" / "fairslot-backup", os.X_OK)
