"""The Host header is not trusted, links come from FAIRSLOT_PUBLIC_URL, and production refuses
settings that would send residents to the wrong place or show operators' figures to anyone."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from booking.config import ConfigError, load_config
from booking.db import db
from tests.conftest import rolled_back_app
from tests.support import DOB, booking_form, csrf_from, make_clinic, make_slot

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://book.example.org"


def production(tmp_path: Any, **environ: str) -> dict[str, Any]:
    return load_config(
        environ={
            "FAIRSLOT_ENV": "production",
            "FAIRSLOT_SECRET_KEY": "s" * 40,
            "FAIRSLOT_INSTANCE_PATH": str(tmp_path),
            **environ,
        }
    )


@pytest.mark.parametrize(
    "url", ["/", "/confirmation", "/static//x", "/api/v1/clinics?zip=02115", "/healthz"]
)
def test_another_host_is_refused(client: Any, url: str) -> None:
    response = client.get(url, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "evil.example" not in response.get_data(as_text=True)
    assert "evil.example" not in response.headers.get("Location", "")


def test_forwarded_hosts_are_checked_too(database_url: str, clock: Any, tmp_path: Any) -> None:
    with rolled_back_app(database_url, clock, tmp_path, PROXY_COUNT=1) as app:
        client = app.test_client()
        forged = client.get("/", headers={"X-Forwarded-Host": "evil.example"})
        assert forged.status_code == 400
        assert client.get("/", headers={"X-Forwarded-Host": "fairslot.test"}).status_code == 200


def test_configured_hosts_are_served(database_url: str, clock: Any, tmp_path: Any) -> None:
    extra = {"TRUSTED_HOSTS": ("lb.internal", ".book.example.org")}
    with rolled_back_app(database_url, clock, tmp_path, **extra) as app:
        client = app.test_client()
        assert client.get("/healthz", headers={"Host": "lb.internal"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "a.book.example.org"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "lb.internal.evil"}).status_code == 400


def test_links_are_built_from_the_public_url(database_url: str, clock: Any, tmp_path: Any) -> None:
    # The request arrives on another trusted name (fairslot.test); the link names PUBLIC.
    with rolled_back_app(database_url, clock, tmp_path, PUBLIC_URL=PUBLIC) as app:
        with app.app_context():
            clinic = make_clinic(db.session, clock())
            slot = make_slot(db.session, clinic, clock() + timedelta(days=1)).id
            db.session.commit()
        client = app.test_client()
        token = csrf_from(client.get("/lookup").get_data(as_text=True))
        held = client.post(f"/slots/{slot}/hold", data={"csrf_token": token, "date_of_birth": DOB})
        booked = client.post(held.headers["Location"], data=booking_form(token))
        assert booked.status_code == 303
        page = client.get("/confirmation").get_data(as_text=True)
        assert f'<a href="{PUBLIC}/manage/' in page
        assert "fairslot.test/manage" not in page


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000",  # the default
        "http://book.example.org",
        "https://localhost",
        "https://127.0.0.1",
        "https://10.1.2.3",
        "https://192.168.0.10:8443",
        "https://[::1]",
    ],
)
def test_production_refuses_a_public_url_residents_cannot_use(tmp_path: Any, url: str) -> None:
    with pytest.raises(ConfigError, match="FAIRSLOT_PUBLIC_URL") as refused:
        production(tmp_path, FAIRSLOT_PUBLIC_URL=url)
    assert "FAIRSLOT_PRIVATE_NETWORK" in str(refused.value)
    allowed = production(tmp_path, FAIRSLOT_PUBLIC_URL=url, FAIRSLOT_PRIVATE_NETWORK="true")
    assert allowed["PUBLIC_URL"] == url


@pytest.mark.parametrize(
    "url", ["book.example.org", "ftp://book.example.org", "https://", "https://[::1"]
)
def test_a_public_url_must_be_an_address_in_any_environment(tmp_path: Any, url: str) -> None:
    with pytest.raises(ConfigError, match="FAIRSLOT_PUBLIC_URL"):
        load_config(environ={"FAIRSLOT_ENV": "test", "FAIRSLOT_PUBLIC_URL": url})


def test_production_serves_the_public_host_and_the_configured_ones(tmp_path: Any) -> None:
    config = production(
        tmp_path, FAIRSLOT_PUBLIC_URL=PUBLIC, FAIRSLOT_TRUSTED_HOSTS="LB.internal, .example.org"
    )
    assert config["TRUSTED_HOSTS"] == ["book.example.org", "lb.internal", ".example.org"]
    with pytest.raises(ConfigError, match="FAIRSLOT_TRUSTED_HOSTS"):
        production(tmp_path, FAIRSLOT_PUBLIC_URL=PUBLIC, FAIRSLOT_TRUSTED_HOSTS="https://x.org")


def test_the_demo_answers_on_both_loopback_names(tmp_path: Any) -> None:
    config = load_config(environ={"FAIRSLOT_ENV": "test", "FAIRSLOT_INSTANCE_PATH": str(tmp_path)})
    assert set(config["TRUSTED_HOSTS"]) == {"127.0.0.1", "localhost"}


def production_app(database_url: str, clock: Any, tmp_path: Any, **extra: Any) -> Any:
    settings = {"FAIRSLOT_ENV": "production", "SECRET_KEY": "k" * 40, "PUBLIC_URL": PUBLIC}
    return rolled_back_app(database_url, clock, tmp_path, **settings, **extra)


def test_metrics_in_production_need_the_token(
    database_url: str, clock: Any, tmp_path: Any, caplog: Any
) -> None:
    with caplog.at_level(logging.WARNING), production_app(database_url, clock, tmp_path) as app:
        assert app.test_client().get("/metrics").status_code == 404
    assert "FAIRSLOT_METRICS_TOKEN is not set" in caplog.text
    caplog.clear()
    with production_app(database_url, clock, tmp_path, METRICS_TOKEN="m" * 20) as app:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        bearer = {"Authorization": "Bearer " + "m" * 20}
        assert client.get("/metrics", headers=bearer).status_code == 200
    assert "FAIRSLOT_METRICS_TOKEN" not in caplog.text


def test_metrics_outside_production_stay_open_without_a_token(client: Any) -> None:
    assert client.get("/metrics").status_code == 200


def test_the_command_line_without_a_secret_says_so_in_one_line(tmp_path: Any) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FAIRSLOT_ENV": "production",
        "FAIRSLOT_INSTANCE_PATH": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "FAIRSLOT_SECRET_KEY is not set" in lines[0]


@pytest.mark.parametrize(("env", "shown"), [("demo", True), ("development", True), ("test", False)])
def test_the_demo_outbox_is_on_by_default_only_in_demo_and_development(
    tmp_path: Any, env: str, shown: bool
) -> None:
    environ = {"FAIRSLOT_ENV": env, "FAIRSLOT_INSTANCE_PATH": str(tmp_path)}
    assert load_config(environ=environ)["DEMO_OUTBOX"] is shown
    assert production(tmp_path, FAIRSLOT_PUBLIC_URL=PUBLIC)["DEMO_OUTBOX"] is False
    turned = load_config(environ={**environ, "FAIRSLOT_DEMO_OUTBOX": "false"})
    assert turned["DEMO_OUTBOX"] is False


@pytest.mark.parametrize("how", ["environ", "override"])
def test_production_refuses_the_demo_outbox(tmp_path: Any, how: str) -> None:
    with pytest.raises(ConfigError, match="FAIRSLOT_DEMO_OUTBOX"):
        if how == "environ":
            production(tmp_path, FAIRSLOT_PUBLIC_URL=PUBLIC, FAIRSLOT_DEMO_OUTBOX="on")
        else:
            load_config(
                environ={"FAIRSLOT_SECRET_KEY": "s" * 40, "FAIRSLOT_PUBLIC_URL": PUBLIC},
                overrides={"FAIRSLOT_ENV": "production", "DEMO_OUTBOX": True},
            )


@pytest.mark.parametrize("on", [True, False])
def test_the_demo_outbox_page_follows_the_setting(
    database_url: str, clock: Any, tmp_path: Any, on: bool
) -> None:
    with rolled_back_app(database_url, clock, tmp_path, DEMO_OUTBOX=on) as app:
        assert app.config["FAIRSLOT_ENV"] == "test"
        page = app.test_client().get("/demo/outbox")
        assert page.status_code == (200 if on else 404)
