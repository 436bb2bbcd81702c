"""Command-line tasks: ``flask --app wsgi <command>``."""

from __future__ import annotations

import click
from flask import Flask, current_app

from booking.clock import now
from booking.db import db

DEMO_BANNER = """
FairSlot demo is ready: {clinics} clinics, {slots} slots ({added} new this run).

  Open            {url}/
  Try a ZIP code  02115 (Boston), 01608 (Worcester), 01103 (Springfield)
  Look up a booking at {url}/lookup
                  code {code}, date of birth {dob}
  API             {url}/api/openapi.json
"""


def register_cli(app: Flask) -> None:
    """Attach FairSlot's commands to the app's CLI."""

    @app.cli.command("migrate")
    @click.option("--revision", default="head", show_default=True)
    def migrate(revision: str) -> None:
        """Run the Alembic migrations against FAIRSLOT_DATABASE_URL."""
        from booking.migrate import upgrade

        upgrade(current_app.config["DATABASE_URL"], revision)
        click.echo(f"Database migrated to {revision}.")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Add the demo clinics, two weeks of slots and a demo booking (idempotent)."""
        from sqlalchemy import func, select

        from booking.demo.seed import seed_demo as seed
        from booking.models import Clinic, Slot
        from booking.services.tokens import format_code

        report = db.transaction(
            lambda s: seed(s, now=now(), secret_key=current_app.config["SECRET_KEY"])
        )
        clinics = db.session.scalar(select(func.count()).select_from(Clinic))
        slots = db.session.scalar(select(func.count()).select_from(Slot))
        click.echo(
            DEMO_BANNER.format(
                url=current_app.config["PUBLIC_URL"].rstrip("/"),
                clinics=clinics,
                slots=slots,
                added=report.slots_added,
                code=format_code(report.demo_code) if report.demo_code else "(none)",
                dob=report.demo_date_of_birth.strftime("%m/%d/%Y"),
            )
        )

    @app.cli.command("release-expired-holds")
    def release_expired_holds() -> None:
        """Expire holds that ran out and give their places back (the sweep)."""
        from booking.services.holds import release_expired_holds as sweep

        total = 0
        while True:
            released = db.transaction(lambda s: sweep(s, now=now()))
            total += released
            if not released:
                break
        click.echo(f"Released {total} expired holds.")
