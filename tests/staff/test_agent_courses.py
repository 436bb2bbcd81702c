"""Two-dose courses in the 2-1-1 console: dose 2 chosen for the caller, both shown, cancel or
keep dose 2, the course moved together, "dose 2 only"; hostile input is the form's reason."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from booking.db import db
from booking.models import Clinic, Reservation
from tests.staff.agent_support import audit_rows, book, hold, rows, text, token
from tests.support import BOSTON, PFIZER_1, PFIZER_2, make_clinic, make_slot, two_dose_product
from tests.support import boston_wall as wall


@pytest.fixture
def course(app, ids, now):
    """Pfizer at the console's clinic: dose 1 tomorrow, dose 2 on days 21 and 25, one past the
    window, one at another clinic, and a second dose-1 time on day 3."""
    with app.app_context():
        s = db.session
        pfizer = two_dose_product(s).id
        clinic = s.get(Clinic, ids["clinic"])
        start = now + timedelta(days=1)
        slot = lambda when, where=clinic: make_slot(s, where, when, product_id=pfizer).id  # noqa: E731
        made = SimpleNamespace(
            first=slot(start),
            moved=slot(wall(start, 3)),
            default=slot(wall(start, 21)),
            later=slot(wall(start, 25, 2)),
            outside=slot(wall(start, 50)),
            elsewhere=slot(wall(start, 21), make_clinic(s, now, name="Elsewhere")),
        )
        s.commit()
        return made


def confirmed(app):
    found = rows(app, Reservation, status="confirmed")
    return sorted(found, key=lambda r: r.dose_number)


def book_course(app, agent, course, **fields):
    held = hold(agent, course.first)
    assert held.status_code == 303
    return held.headers["Location"], book(agent, held.headers["Location"], **fields)


def test_the_agent_chooses_dose_two_and_sees_both(app, agent, course):
    held = hold(agent, course.first)
    page = text(agent.get(held.headers["Location"]))
    assert "between 21 and 42 days after dose 1" in page
    assert (
        f'<option value="{course.default}" selected>' in page
        and f'<option value="{course.outside}"' not in page
    )
    done = book(agent, held.headers["Location"], second_dose_slot_id=str(course.later))
    assert done.status_code == 303
    first, second = confirmed(app)
    assert (second.slot_id, second.course_id) == (course.later, first.id)
    for url in (done.headers["Location"], f"/agent/reservations/{first.id}"):
        page = text(agent.get(url))
        assert PFIZER_1 in page and PFIZER_2 in page
    (entry,) = audit_rows(app, "agent.book")
    assert entry.detail["second_slot_id"] == course.later


@pytest.mark.parametrize("raw", ["outside", "elsewhere", "abc", "-1", "99999999999"])
def test_a_hostile_dose_two_is_the_form_again(app, agent, course, raw):
    value = str(getattr(course, raw)) if hasattr(course, raw) else raw
    url, response = book_course(app, agent, course, second_dose_slot_id=value)
    assert response.status_code == 422
    assert 'name="first_name"' in text(response)
    assert confirmed(app) == []
    assert book(agent, url, second_dose_slot_id=str(course.default)).status_code == 303


def test_dose_two_only_for_a_caller(app, agent, course, now):
    given = (now.astimezone(BOSTON) - timedelta(days=20)).date()
    _, done = book_course(app, agent, course, prior_dose_date=given.strftime("%m/%d/%Y"))
    assert done.status_code == 303
    (only,) = confirmed(app)
    assert (only.dose_number, only.prior_dose_date) == (2, given)


def test_cancel_asks_about_dose_two_then_keeps_it(app, agent, course, now):
    book_course(app, agent, course)
    first, _ = confirmed(app)
    url = f"/agent/reservations/{first.id}/cancel"
    form = {"csrf_token": token(agent), "caller_confirmed": "1"}
    unanswered = agent.post(url, data=form)
    assert unanswered.status_code == 422 and "Choose what happens to dose 2." in text(unanswered)
    future = agent.post(url, data={**form, "dose_two": "keep", "dose_one_given_on": "12/31/2099"})
    assert future.status_code == 422
    assert len(confirmed(app)) == 2
    given = now.astimezone(BOSTON).date()
    kept = {**form, "dose_two": "keep", "dose_one_given_on": given.strftime("%m/%d/%Y")}
    assert agent.post(url, data=kept).status_code == 303
    (left,) = confirmed(app)
    assert (left.dose_number, left.prior_dose_date) == (2, given)


def test_cancel_both(app, agent, course):
    book_course(app, agent, course)
    first, _ = confirmed(app)
    form = {"csrf_token": token(agent), "caller_confirmed": "1", "dose_two": "cancel"}
    assert agent.post(f"/agent/reservations/{first.id}/cancel", data=form).status_code == 303
    assert confirmed(app) == []


def test_the_course_moves_together(app, agent, course):
    book_course(app, agent, course)
    first, _ = confirmed(app)
    url = f"/agent/reservations/{first.id}/reschedule"
    step = agent.post(url, data={"csrf_token": token(agent), "slot_id": str(course.moved)})
    assert step.status_code == 200 and "Choose a time for dose 2" in text(step)
    form = {"csrf_token": token(agent), "slot_id": str(course.moved), "step": "course"}
    for bad in (str(course.outside), "abc"):
        refused = agent.post(url, data={**form, "second_dose_slot_id": bad})
        assert refused.status_code in (409, 422) and "dose 2" in text(refused)
    assert [r.slot_id for r in confirmed(app)] == [course.first, course.default]
    moved = agent.post(url, data={**form, "second_dose_slot_id": str(course.later)})
    assert moved.status_code == 303
    assert [r.slot_id for r in confirmed(app)] == [course.moved, course.later]
