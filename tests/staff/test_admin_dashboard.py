"""The state admin's dashboard: figures summed in the database, charts drawn on the server (SVG
with a text alternative), the same numbers in tables, totals, and the optional live refresh."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from redis.exceptions import RedisError
from sqlalchemy import select

from booking.db import db
from booking.models import OutboxMessage
from booking.services import dashboard, holds
from booking.web.queue_state import get_queue
from tests.services.course_world import book as confirm
from tests.staff.admin_support import statements_for
from tests.staff.support import admin_client, signed_in_client
from tests.support import make_clinic, make_slot

BOSTON = ZoneInfo("America/New_York")


def boston(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BOSTON)


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def book(session, slot, n, clock, status="confirmed"):
    done = confirm(session, slot.id, clock(), n=n)
    done.reservation.status = status
    return done.reservation


class Svg(HTMLParser):
    """The charts of a page: each svg's attributes, its title and desc, and its bars."""

    def __init__(self, html):
        super().__init__()
        self.charts, self.ids, self._in = [], set(), None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "svg":
            self.charts.append({"attrs": attrs, "title": "", "desc": "", "bars": []})
        elif self.charts and tag in ("title", "desc") and "id" in attrs:
            self._in = tag
        elif self.charts and tag == "rect":
            self.charts[-1]["bars"].append(attrs)

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.charts[-1][self._in] += data


# The figures ----------------------------------------------------------------------------------


def test_hours_of_today_count_places_and_bookings_from_the_first_busy_hour_to_the_last(app, clock):
    today = dashboard.state_today(clock())
    with app.app_context():
        s = db.session
        clinic = make_clinic(s, clock())
        nine = make_slot(s, clinic, boston(today, 9, 0), capacity=4)
        make_slot(s, clinic, boston(today, 9, 30), capacity=6)
        closed = make_slot(s, clinic, boston(today, 12, 15), capacity=5)
        make_slot(s, clinic, boston(today + timedelta(days=1), 0, 0), capacity=50)  # tomorrow
        book(s, nine, 1, clock)
        book(s, nine, 2, clock)
        book(s, closed, 3, clock)
        closed.is_open = False  # a closed time offers nothing, but its booking still counts
        s.flush()
        hours = dashboard.hours_of_day(s, day=today)
    assert [(h.starts_at.hour, h.capacity, h.booked) for h in hours] == [
        (9, 10, 2),
        (10, 0, 0),
        (11, 0, 0),
        (12, 0, 1),
    ]
    assert all(h.starts_at.tzinfo is not None for h in hours)
    assert hours[0].use_percent == 20 and hours[3].use_percent == 0


def test_a_day_when_the_clocks_change_has_23_or_25_hours():
    assert len(dashboard.hour_edges(date(2026, 3, 8))) == 24  # 23 hours: 24 edges
    assert len(dashboard.hour_edges(date(2026, 11, 1))) == 26
    edges = dashboard.hour_edges(date(2026, 3, 8))
    assert [e.hour for e in edges[:4]] == [0, 1, 3, 4]  # 2 AM never happens


def test_places_by_day_leave_out_times_begun_and_closed_and_follow_the_state_day(app, clock):
    today = dashboard.state_today(clock())  # 08:00 in Boston
    with app.app_context():
        s = db.session
        clinic = make_clinic(s, clock())
        make_slot(s, clinic, boston(today, 7, 30), capacity=9)  # already begun
        later = make_slot(s, clinic, boston(today, 23, 30), capacity=4)  # 04:30 UTC tomorrow
        closed = make_slot(s, clinic, boston(today, 10), capacity=7)
        closed.is_open = False
        make_slot(s, clinic, boston(today + timedelta(days=2), 9), capacity=3)
        make_slot(s, clinic, boston(today + timedelta(days=3), 9), capacity=100)  # past horizon
        book(s, later, 1, clock)
        holds.place_hold(s, later.id, now=clock(), hold_minutes=10)
        s.flush()
        places = dashboard.places_by_day(s, now=clock(), days=3)
    assert [(p.day, p.capacity, p.booked, p.held, p.free) for p in places] == [
        (today, 4, 1, 1, 2),
        (today + timedelta(days=1), 0, 0, 0, 0),
        (today + timedelta(days=2), 3, 0, 0, 3),
    ]


def test_messages_by_day_count_sent_when_sent_and_failed_when_given_up(app, clock):
    today = dashboard.state_today(clock())
    with app.app_context():
        s = db.session
        clinic = make_clinic(s, clock())
        slot = make_slot(s, clinic, clock() + timedelta(days=2))
        book(s, slot, 1, clock)
        book(s, slot, 2, clock)
        messages = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert len(messages) >= 4
        yesterday_evening = boston(today - timedelta(days=1), 23, 59)
        messages[0].status, messages[0].sent_at = "sent", yesterday_evening
        messages[1].status, messages[1].sent_at = "sent", boston(today, 0, 1)
        messages[2].status, messages[2].updated_at = "failed", boston(today, 7)
        messages[3].status = "sending"
        old = messages[4] if len(messages) > 4 else None
        if old is not None:  # sent before the window: not counted
            old.status, old.sent_at = "sent", boston(today - timedelta(days=9), 12)
        s.flush()
        days = dashboard.messages_by_day(s, now=clock(), days=7)
        waiting = dashboard.messages_waiting(s)
        queued = sum(1 for m in messages if m.status in ("queued", "sending"))
    assert [d.day for d in days] == [today - timedelta(days=6 - i) for i in range(7)]
    assert [(d.sent, d.failed) for d in days[-2:]] == [(1, 0), (1, 1)]
    assert sum(d.sent for d in days) == 2 and sum(d.failed for d in days) == 1
    assert waiting == queued >= 1


def test_the_clinic_week_totals_each_clinic_each_day_and_everything(app, clock):
    today = dashboard.state_today(clock())
    with app.app_context():
        s = db.session
        north = make_clinic(s, clock(), name="North")
        south = make_clinic(s, clock(), name="South", timezone="America/Chicago")
        a = make_slot(s, north, boston(today, 10), capacity=4)
        make_slot(s, north, boston(today + timedelta(days=1), 10), capacity=6)
        b = make_slot(s, south, boston(today, 10), capacity=2)
        book(s, a, 1, clock, "checked_in")
        book(s, a, 2, clock, "no_show")
        book(s, b, 3, clock)
        s.flush()
        week = dashboard.clinic_week(s, start=today, days=7)
    cell = week.cells[(north.id, today)]
    assert (cell.capacity, cell.booked, cell.checked_in, cell.no_show) == (4, 2, 1, 1)
    assert week.by_clinic[north.id].capacity == 10 and week.by_clinic[north.id].booked == 2
    assert week.by_day[today].capacity == 6 and week.by_day[today].booked == 3
    assert (week.total.capacity, week.total.booked, week.total.checked_in) == (12, 3, 1)


# The page ---------------------------------------------------------------------------------


def test_the_dashboard_draws_accessible_charts_with_the_numbers_in_tables(app, admin, clock):
    today = dashboard.state_today(clock())
    with app.app_context():
        s = db.session
        clinic = make_clinic(s, clock(), name="Dashboard Clinic")
        ten = make_slot(s, clinic, boston(today, 10), capacity=1200)
        make_slot(s, clinic, boston(today, 11), capacity=40)
        book(s, ten, 1, clock, "checked_in")
        book(s, ten, 2, clock, "no_show")
        book(s, ten, 3, clock)
        sent = s.scalars(select(OutboxMessage)).first()
        sent.status, sent.sent_at = "sent", clock()
        s.commit()
    with app.app_context():
        queue = get_queue()
        queue.update_settings(mode="paused")
        for i in range(3):
            queue.join(binding=f"b{i}", now=clock().timestamp())
    response = admin.get("/admin/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    svg = Svg(page)
    titles = [c["title"] for c in svg.charts]
    assert titles == [
        "Places booked by hour today, against places offered",
        "People waiting, minute by minute",
        "Free places by day",
        "Messages sent and failed by day",
    ]
    for chart in svg.charts:
        attrs = chart["attrs"]
        assert attrs["role"] == "img"
        assert all(part in svg.ids for part in attrs["aria-labelledby"].split())
        assert chart["desc"].strip()
        assert "style" not in attrs
    today_chart = svg.charts[0]
    assert "3 of 1,240 places booked today." in today_chart["desc"]
    assert [b["class"] for b in today_chart["bars"]] == [
        "chart-bar chart-bar--capacity",
        "chart-bar chart-bar--booked",
        "chart-bar chart-bar--capacity",
    ]
    # The same numbers in a table, in words, with thousands separators; no "3/1200 (0%) in 1".
    assert re.search(r"<td[^>]*>3</td><td[^>]*>1,200</td><td[^>]*>0%</td>", page)
    assert "3 of 1,240 booked" in page and "Checked in: 1" in page and "No-shows: 1" in page
    assert not re.search(r"\d/\d", page.replace("</", ""))
    assert "At most 3 people waiting in the last hour; 3 now." in page
    assert "Nobody was let in from the line in the last hour." in page
    assert "style=" not in page and "<style" not in page
    assert "<script>" not in page and "admin-dashboard.js" in page
    assert 'href="/static/admin.css"' in page
    with app.app_context():
        queue.update_settings(mode="always")
        assert queue.advance(now=clock().timestamp() + 1) == 3
    again = Svg(admin.get("/admin/dashboard").get_data(as_text=True))
    let_in = next(c for c in again.charts if c["title"] == "People let in, minute by minute")
    assert let_in["desc"] == "3 let in in the last hour, at most 3 in one minute."
    assert len(let_in["bars"]) == 1


def test_the_dashboard_without_the_queue_s_redis_still_shows_the_rest(app, admin, monkeypatch):
    with app.app_context():
        queue = get_queue()

        def down(**_kwargs):
            raise RedisError("down")

        monkeypatch.setattr(queue, "stats", down)
        response = admin.get("/admin/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Not known: the queue\u2019s Redis is unreachable." in page
    assert "Free places by day" in page or "No open times" in page


def test_the_live_panels_come_as_json_for_admins_only(app, admin, clock, accounts):
    body = admin.get("/admin/dashboard/live", headers={"Accept": "application/json"}).json
    assert set(body["panels"]) == {"headline", "today", "queue", "places", "messages"}
    assert 'id="today-heading"' in body["panels"]["today"]
    assert "Figures at 8:00" in body["panels"]["headline"]
    signed_out = app.test_client().get(
        "/admin/dashboard/live", headers={"Accept": "application/json"}
    )
    assert signed_out.status_code == 401
    agent = signed_in_client(app, accounts["agent"][1], "correct horse battery", clock())
    assert agent.get("/admin/dashboard/live").status_code == 403


def test_a_week_with_an_odd_start_falls_back_to_this_week(admin):
    assert admin.get("/admin/dashboard?start=2021-02-30").status_code == 200
    assert admin.get("/admin/dashboard?start=1900-01-01").status_code == 200


def test_the_dashboard_speaks_the_reader_s_language_and_number_format(app, admin, clock):
    today = dashboard.state_today(clock())
    with app.app_context():
        clinic = make_clinic(db.session, clock())
        make_slot(db.session, clinic, boston(today, 15), capacity=1240)
        db.session.commit()
    page = admin.get("/admin/dashboard", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Citas de hoy, hora por hora" in page
    assert "0 de 1,240 plazas reservadas hoy." in page  # US Spanish groups with a comma
    assert ">3\u00a0p.m.</th>" in page  # the hour on US Spanish's 12-hour clock


def test_more_clinics_cost_no_more_statements(app, admin, clock):
    today = dashboard.state_today(clock())

    def add_clinics(count):
        with app.app_context():
            for _ in range(count):
                clinic = make_clinic(db.session, clock())
                make_slot(db.session, clinic, boston(today, 16), capacity=3)
            db.session.commit()

    add_clinics(1)
    few = statements_for(app, admin, "/admin/dashboard")
    add_clinics(5)
    assert statements_for(app, admin, "/admin/dashboard") == few
    live = statements_for(app, admin, "/admin/dashboard/live")
    assert live < few  # the live panels leave out the week by clinic
