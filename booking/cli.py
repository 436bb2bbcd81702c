"""Command-line tasks: ``flask --app wsgi <command>``."""

from __future__ import annotations

from dataclasses import astuple
from datetime import datetime

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

  Staff console   {url}/staff/sign-in
                  (demo passwords; the two-step page shows the demo TOTP code)
{accounts}
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

    @app.cli.command("purge")
    @click.option("--batch", default=500, show_default=True, help="Slots per transaction.")
    def purge(batch: int) -> None:
        """Delete what the retention rule says is due (FAIRSLOT_RETENTION_DAYS), batch by batch."""
        from booking.services import retention

        days = current_app.config["RETENTION_DAYS"]
        totals = [0, 0, 0, 0, 0]
        while True:
            done = db.transaction(
                lambda s: retention.purge(s, now=now(), resident_days=days, batch=batch)
            )
            totals = [a + b for a, b in zip(totals, astuple(done), strict=True)]
            if done.slots < batch:
                break
        click.echo(
            f"Purged {totals[0]} slots older than {days} days with {totals[1]} reservations and "
            f"{totals[2]} messages, {totals[3]} expired holds and {totals[4]} clinic system "
            "batches past their replay window."
        )

    @app.cli.command("seed-demo")
    @click.option("--force", is_flag=True, help="Allow it outside demo/development.")
    def seed_demo(force: bool) -> None:
        """Add the demo clinics, two weeks of slots and a demo booking (idempotent)."""
        from sqlalchemy import func, select

        from booking.demo.accounts import seed_accounts
        from booking.demo.seed import seed_demo as seed
        from booking.models import Clinic, Slot
        from booking.services.tokens import format_code

        if current_app.config["FAIRSLOT_ENV"] == "production" and not force:
            raise click.ClickException(
                "Refusing to add demo data and demo accounts in production (use --force)."
            )
        report = db.transaction(
            lambda s: seed(s, now=now(), secret_key=current_app.config["SECRET_KEY"])
        )
        accounts = db.transaction(lambda s: seed_accounts(s, now=now()))
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
                accounts="\n".join(
                    f"  {role:<15} {email:<28} {password}" for email, password, role in accounts
                ),
            )
        )

    @app.cli.command("cancel-appointments")
    @click.option("--clinic", "clinic_id", type=int, help="With --date: the clinic's whole day.")
    @click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
    @click.option("--slot", "slot_ids", type=int, multiple=True, help="One slot (repeatable).")
    @click.option("--reason", default=None, help="Told to the residents, e.g. 'a power cut'.")
    def cancel_appointments(
        clinic_id: int | None, day: datetime | None, slot_ids: tuple[int, ...], reason: str | None
    ) -> None:
        """A clinic cancels slots or a day: close them and notify everyone booked in them."""
        from booking.messages.policy import notice_policy_from_config
        from booking.services import closures

        policy = notice_policy_from_config(current_app.config)
        if slot_ids and not (clinic_id or day):
            report = db.transaction(
                lambda s: closures.cancel_slots(
                    s, list(slot_ids), now=now(), reason=reason, notices=policy
                )
            )
        elif clinic_id and day and not slot_ids:
            report = db.transaction(
                lambda s: closures.cancel_clinic_day(
                    s, clinic_id, day.date(), now=now(), reason=reason, notices=policy
                )
            )
        else:
            raise click.UsageError("Give --slot ID..., or --clinic ID and --date YYYY-MM-DD.")
        click.echo(
            f"Closed {report.slots_closed} slots, cancelled {report.bookings_cancelled} bookings "
            f"(each resident is told), released {report.holds_released} holds."
        )

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", "display_name", default="")
    @click.option(
        "--role",
        required=True,
        type=click.Choice(["clinic_staff", "clinic_manager", "agent", "state_admin"]),
    )
    @click.option("--clinic", "clinics", multiple=True, type=int, help="Clinic id (repeatable).")
    @click.password_option(help="At least 12 characters; prompted for if not given.")
    def create_user(
        email: str, display_name: str, role: str, clinics: tuple[int, ...], password: str
    ) -> None:
        """Create a staff account (state admins enrol TOTP at their first sign-in)."""
        from booking.services import staff
        from booking.services.errors import InvalidInput

        try:
            user = db.transaction(
                lambda s: staff.create_user(
                    s,
                    email=email,
                    display_name=display_name,
                    role=role,
                    password=password,
                    now=now(),
                    clinic_ids=clinics,
                )
            )
        except InvalidInput as exc:
            raise click.ClickException("; ".join(exc.errors.values())) from None
        click.echo(f"Created {user.role} {user.email} (id {user.id}).")

    @app.cli.command("release-expired-holds")
    def release_expired_holds() -> None:
        """Expire holds that ran out and give their places back (the sweep)."""
        from booking.services.sweep import sweep_in_batches

        total = sweep_in_batches(db.transaction, clock=now)
        click.echo(f"Released {total} expired holds.")
