"""The state admin's dashboard: today's appointments, the waiting room, free places, messages.

The page draws its charts on the server (inline SVG with the numbers in a table beside each),
so it works without JavaScript. With JavaScript, static/admin-dashboard.js refreshes the
panels from ``/admin/dashboard/live``, which renders the same template macros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, get_template_attribute, jsonify, render_template, request
from flask_babel import gettext, pgettext
from redis.exceptions import RedisError

from admission.control import ControlView
from admission.queue import QueueStats
from admission.scripts import MinuteFigures
from booking.admin import bp
from booking.admin.charts import Chart, Series, column_chart
from booking.admin.formatting import day_axis_label, hour_label, minute_label, number
from booking.admin.queue import control_view
from booking.clock import now
from booking.db import db
from booking.models import Role
from booking.services import dashboard as figures
from booking.services.errors import InvalidInput
from booking.services.validation import parse_date
from booking.web.access import staff_route
from booking.web.queue_state import get_queue

MESSAGE_DAYS = 7
WEEK = 7
PANELS = ("headline", "today", "queue", "places", "messages")


@dataclass(frozen=True)
class Live:
    """The panels that change while the page is open, with their charts."""

    at: datetime
    hours: list[figures.HourFigures]
    hours_total: figures.DayFigures
    hours_chart: Chart
    busiest: figures.HourFigures | None
    queue: QueueStats | None  # None while the queue's Redis is unreachable
    control: ControlView | None  # the admission controller, likewise
    minutes: list[MinuteFigures]
    waiting_chart: Chart
    admitted_chart: Chart
    admitted_hour: int
    places: list[figures.DayPlaces]
    places_total: figures.DayPlaces
    places_chart: Chart
    messages: list[figures.DayMessages]
    messages_chart: Chart
    sent_total: int
    failed_total: int
    messages_waiting: int


def _queue_figures(moment: datetime) -> tuple[QueueStats | None, list[MinuteFigures]]:
    try:
        queue = get_queue()
        return queue.stats(now=moment.timestamp()), queue.history(now=moment.timestamp())
    except RedisError:
        return None, []


def live_figures(moment: datetime) -> Live:
    """Every figure of the live panels at ``moment``, charts drawn."""
    session = db.session
    hours = figures.hours_of_day(session, day=figures.state_today(moment))
    hours_total = figures.DayFigures(
        capacity=sum(h.capacity for h in hours), booked=sum(h.booked for h in hours)
    )
    hour_names = [hour_label(h.starts_at) for h in hours]
    hours_chart = column_chart(
        hour_names,
        [
            Series(gettext("Places"), "capacity", [h.capacity for h in hours]),
            Series(pgettext("number of places", "Booked"), "booked", [h.booked for h in hours]),
        ],
        number=number,
        overlay=True,
    )
    stats, minutes = _queue_figures(moment)
    minute_names = [minute_label(m.starts_at) for m in minutes]
    waiting_chart = column_chart(
        minute_names,
        [Series(gettext("People waiting"), "waiting", [m.waiting for m in minutes])],
        number=number,
    )
    admitted_chart = column_chart(
        minute_names,
        [Series(gettext("Let in"), "admitted", [m.admitted for m in minutes])],
        number=number,
    )
    days = current_app.config["BOOKING_DAYS"]
    places = figures.places_by_day(session, now=moment, days=days)
    places_chart = column_chart(
        [day_axis_label(p.day) for p in places],
        [Series(gettext("Free places"), "free", [p.free for p in places])],
        number=number,
    )
    messages = figures.messages_by_day(session, now=moment, days=MESSAGE_DAYS)
    messages_chart = column_chart(
        [day_axis_label(m.day) for m in messages],
        [
            Series(gettext("Sent"), "sent", [m.sent for m in messages]),
            Series(gettext("Failed"), "failed", [m.failed for m in messages]),
        ],
        number=number,
    )
    busy = [h for h in hours if h.capacity]
    return Live(
        at=moment,
        hours=hours,
        hours_total=hours_total,
        hours_chart=hours_chart,
        busiest=max(busy, key=lambda h: (h.use_percent, h.booked)) if busy else None,
        queue=stats,
        control=control_view() if stats is not None else None,
        minutes=minutes,
        waiting_chart=waiting_chart,
        admitted_chart=admitted_chart,
        admitted_hour=sum(m.admitted for m in minutes),
        places=places,
        places_total=figures.DayPlaces(
            places[0].day if places else date.min,
            sum(p.capacity for p in places),
            sum(p.booked for p in places),
            sum(p.held for p in places),
        ),
        places_chart=places_chart,
        messages=messages,
        messages_chart=messages_chart,
        sent_total=sum(m.sent for m in messages),
        failed_total=sum(m.failed for m in messages),
        messages_waiting=figures.messages_waiting(session),
    )


def _week_start(today: date) -> date:
    raw = request.args.get("start")
    if not raw:
        return today
    try:
        start = parse_date(raw, field="start")
    except InvalidInput:
        return today
    return start if abs((start - today).days) <= 3660 else today


@bp.get("/dashboard")
@staff_route(Role.STATE_ADMIN)
def dashboard() -> Any:
    """Today hour by hour, the waiting room's last hour, free places, messages, clinics by day."""
    moment = now()
    today = figures.state_today(moment)
    start = _week_start(today)
    live = live_figures(moment)
    week = figures.clinic_week(db.session, start=start, days=WEEK)
    return render_template(
        "admin/dashboard.html",
        live=live,
        week=week,
        today=today,
        start=start,
        previous=start - timedelta(days=WEEK),
        following=start + timedelta(days=WEEK),
        booking_days=current_app.config["BOOKING_DAYS"],
        idle_seconds=current_app.config["STAFF_IDLE_MINUTES"] * 60,
    )


@bp.get("/dashboard/live")
@staff_route(Role.STATE_ADMIN)
def dashboard_live() -> Any:
    """The live panels again, as HTML fragments in JSON, for the page's optional refresh."""
    live = live_figures(now())
    days = current_app.config["BOOKING_DAYS"]
    panels = {
        name: str(get_template_attribute("admin/_dashboard.html", f"{name}_panel")(live, days))
        for name in PANELS
    }
    return jsonify(panels=panels, updated=minute_label(live.at))
