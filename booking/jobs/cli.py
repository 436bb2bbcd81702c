"""Commands: ``flask --app wsgi worker`` and ``flask --app wsgi messages list|retry|relay``."""

from __future__ import annotations

from functools import partial
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from booking.clock import now
from booking.db import db
from booking.models import MessageStatus
from booking.redis_client import connect, redis_target
from booking.services import outbox
from booking.services.errors import DomainError

STATES = [s.value for s in MessageStatus]


def register(app: Flask) -> None:
    """Attach the worker and messages commands to the app's CLI."""
    app.cli.add_command(worker)
    app.cli.add_command(messages)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Run the jobs there are, then stop.")
@click.option("--name", default=None, help="Worker name (default: random).")
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Also run RQ's scheduler (reminders and retries); any number of workers may.",
)
@click.option(
    "--fork/--no-fork",
    default=False,
    show_default=True,
    help="Run each job in a fresh child process (isolated, but about 4-5x the CPU per message).",
)
def worker(burst: bool, name: str | None, scheduler: bool, fork: bool) -> None:
    """Run an RQ worker (and its scheduler) against FAIRSLOT_REDIS_URL (or its sentinels)."""
    from booking.jobs.worker import FairSlotSimpleWorker, FairSlotWorker, worker_queue_names

    target = redis_target(current_app.config)
    if target is None:
        raise click.UsageError(
            "FAIRSLOT_REDIS_URL is not set. On the embedded default the web process runs its "
            "own worker; a separate worker needs a real Redis."
        )
    # A connection of its own: RQ blocks on it for long waits, unlike the app's short timeouts.
    connection = connect(target, blocking=False, health_check_interval=30)
    worker_class = FairSlotWorker if fork else FairSlotSimpleWorker
    rq_worker = worker_class(
        worker_queue_names(),
        connection=connection,
        name=name,
        app=current_app._get_current_object(),  # type: ignore[attr-defined]
    )
    rq_worker.work(burst=burst, with_scheduler=scheduler, logging_level="INFO")
    if not rq_worker.stopped_on_purpose:
        # RQ logs the error and returns as if it had finished; a supervisor that restarts on
        # failure only (systemd Restart=on-failure) must see a failure to bring the worker back.
        raise click.ClickException("the worker stopped on an error (see the log above)")


# An AppGroup runs each subcommand inside an app context.
messages = AppGroup("messages", help="See and retry the messages sent to residents (the outbox).")


@messages.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATES))
@click.option("--reservation", "reservation_id", type=int, default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
def list_messages(statuses: tuple[str, ...], reservation_id: int | None, limit: int) -> None:
    """List messages, newest first (e.g. --status failed)."""
    rows = outbox.list_messages(
        db.session, statuses=statuses or None, reservation_id=reservation_id, limit=limit
    )
    if not rows:
        click.echo("No messages.")
        return
    click.echo(
        f"{'id':>7}  {'status':9} {'kind':19} {'channel':7} {'tries':>5}  "
        f"{'due / sent (UTC)':20} error"
    )
    for m in rows:
        when = m.sent_at or m.next_attempt_at
        click.echo(
            f"{m.id:>7}  {m.status:9} {m.kind:19} {m.channel:7} {m.attempts:>5}  "
            f"{when:%Y-%m-%d %H:%M:%S}  {m.last_error or ''}"
        )


@messages.command("retry")
@click.argument("message_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed message.")
def retry(message_ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue failed messages again with a fresh set of attempts."""
    ids = list(message_ids)
    if all_failed:
        ids += [m.id for m in outbox.list_messages(db.session, statuses=("failed",), limit=500)]
    if not ids:
        raise click.UsageError("Name the message ids to retry, or pass --all-failed.")
    errors = 0
    for message_id in ids:
        try:
            db.transaction(partial(_retry, message_id=message_id))
            click.echo(f"Message {message_id} queued again.")
        except DomainError as exc:
            errors += 1
            click.echo(f"Message {message_id}: {exc.detail}", err=True)
    if errors:
        raise SystemExit(1)


@messages.command("relay")
def relay() -> None:
    """Enqueue every committed message the job queue lacks (also runs on every worker)."""
    from booking.jobs.tasks import relay_outbox

    click.echo(f"Enqueued {relay_outbox()} messages.")


def _retry(session: Any, *, message_id: int) -> Any:
    return outbox.retry_failed(session, message_id, now=now())
