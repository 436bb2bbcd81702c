"""The app factory, configuration, health probes, CLI commands and the demo seed."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from booking import create_app
from booking.config import SETTINGS, ConfigError, load_config
from booking.db import db
from booking.models import Clinic, Reservation, Slot
from tests.conftest import make_app
from tests.support import make_clinic, make_slot

ROOT = Path(__file__).resolve().parent.parent


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="FAIRSLOT_SECRET_KEY is not set"):
        load_config(environ={"FAIRSLOT_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError):
        create_app({"FAIRSLOT_ENV": "production", "INSTANCE_PATH": str(tmp_path)})


def test_production_takes_settings_from_the_environment(tmp_path):
    config = load_config(
        environ={
            "FAIRSLOT_SECRET_KEY": "s" * 40,
            "FAIRSLOT_PUBLIC_URL": "https://book.example.org",
            "FAIRSLOT_DATABASE_URL": "postgresql+psycopg://db/fairslot",
            "FAIRSLOT_REDIS_URL": "redis://cache:6379/0",
            "FAIRSLOT_HOLD_MINUTES": "7",
            "FAIRSLOT_PROXY_COUNT": "1",
            "FAIRSLOT_INSTANCE_PATH": str(tmp_path),
        }
    )
    assert config["SECRET_KEY"] == "s" * 40
    assert config["DATABASE_URL"] == "postgresql+psycopg://db/fairslot"
    assert config["REDIS_URL"] == "redis://cache:6379/0"
    assert config["HOLD_MINUTES"] == 7
    assert config["PROXY_COUNT"] == 1
    assert config["SESSION_COOKIE_SECURE"] is True


def test_malformed_settings_name_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="FAIRSLOT_HOLD_MINUTES"):
        load_config(environ={"FAIRSLOT_ENV": "test", "FAIRSLOT_HOLD_MINUTES": "ten"})
    with pytest.raises(ConfigError, match="FAIRSLOT_ENV"):
        load_config(environ={"FAIRSLOT_ENV": "staging"})
    # Housekeeping slower than the relay's 15-minute look-ahead would send reminders late.
    with pytest.raises(ConfigError, match="FAIRSLOT_HOUSEKEEPING_SECONDS"):
        load_config(environ={"FAIRSLOT_ENV": "test", "FAIRSLOT_HOUSEKEEPING_SECONDS": "1200"})


def test_demo_mode_uses_the_embedded_default_and_a_stable_random_key(tmp_path):
    environ = {"FAIRSLOT_ENV": "demo", "FAIRSLOT_INSTANCE_PATH": str(tmp_path)}
    first = load_config(environ=environ)
    second = load_config(environ=environ)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 40
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path / 'fairslot.sqlite3'}"
    assert first["REDIS_URL"] is None
    assert (tmp_path / "demo-secret-key").stat().st_mode & 0o077 == 0


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_names_redis_when_it_is_down(database_url, clock, tmp_path):
    app = make_app(database_url, clock, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["redis"]
    assert response.json["checks"]["database"] == "ok"


def test_readyz_names_the_database_when_it_is_down(clock, tmp_path):
    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    app = make_app(f"sqlite:///{missing}", clock, tmp_path)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["database"]


def test_demo_seed_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "http://fairslot.test/" in first.output  # FAIRSLOT_PUBLIC_URL
    with app.app_context():
        clinics = db.session.scalar(select(func.count()).select_from(Clinic))
        slots = db.session.scalar(select(func.count()).select_from(Slot))
        bookings = db.session.scalar(select(func.count()).select_from(Reservation))
        sites = db.session.scalars(select(Clinic.name)).all()
    assert clinics >= 20
    assert slots > 10_000
    assert {"Gillette Stadium", "Fenway Park"} <= set(sites)
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "(0 new this run)" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Slot)) == slots
        assert db.session.scalar(select(func.count()).select_from(Reservation)) == bookings
        # Every slot's counters agree with its reservations after seeding.
        drift = db.session.scalar(
            select(func.count()).select_from(Slot).where(Slot.held + Slot.booked > Slot.capacity)
        )
        assert drift == 0


def test_release_expired_holds_command(app, clock):
    from booking.services.holds import place_hold

    with app.app_context():
        slot = make_slot(db.session, make_clinic(db.session, clock()), clock() + timedelta(days=1))
        place_hold(db.session, slot.id, now=clock(), hold_minutes=10)
        db.session.commit()
    clock.advance(timedelta(minutes=11))
    result = app.test_cli_runner().invoke(args=["release-expired-holds"])
    assert "Released 1 expired holds." in result.output
    with app.app_context():
        assert db.session.get(Slot, slot.id).held == 0


def test_make_help_lists_the_targets():
    out = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for target in ("demo", "test", "migrate", "serve", "lint", "lock"):
        assert f"make {target} " in out


def test_nothing_happens_at_import_time():
    # Importing the package must not build an app, open a database or read the environment.
    code = (
        "import sys, booking, booking.models, booking.services.holds; "
        "assert 'flask_sqlalchemy' not in sys.modules; print('ok')"
    )
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"FAIRSLOT_ENV": "production"},
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_the_site_icon_is_where_browsers_look(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
