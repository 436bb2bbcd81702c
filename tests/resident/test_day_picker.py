"""The clinic page's days: free places counted, a full day and a day without times told apart."""

from __future__ import annotations

import re
from datetime import timedelta

from booking.db import db
from tests.support import make_clinic, make_slot


def test_full_days_and_days_without_times_read_differently(app, client, now):
    with app.app_context():
        clinic = make_clinic(db.session, now)
        full = make_slot(db.session, clinic, now + timedelta(days=1), capacity=1)
        full.booked = 1
        make_slot(db.session, clinic, now + timedelta(days=3), capacity=1200)
        db.session.commit()
        clinic_id = clinic.id
    page = client.get(f"/clinics/{clinic_id}").get_data(as_text=True)
    counts = re.findall(r'<span class="day-count">([^<]*)</span>', page)
    assert counts[1] == "Full"  # tomorrow: a time, every place taken
    assert counts[2] == "No times"  # no time at all that day
    assert counts[3] == "1,200 free"  # grouped digits
    # Each day's link lands on the times, not the top of the page.
    assert re.search(r'href="\?date=[0-9-]+#times-heading"', page)
