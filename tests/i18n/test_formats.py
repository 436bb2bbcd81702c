"""How pages write phone numbers, codes, birth dates and message states for the reader."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale

from booking.web import formats


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+16175550123", "(617) 555-0123"),
        ("+441632960000", "+441632960000"),  # not a US number: as stored
        (None, ""),
        ("", ""),
    ],
)
def test_phone_numbers_as_people_write_them(stored, shown):
    assert formats.phone(stored) == shown


def test_codes_in_two_groups_of_four():
    assert formats.code("ABCD2345") == "ABCD-2345"
    assert formats.code("ABC") == "ABC" and formats.code(None) == ""


def test_a_birth_date_in_words_with_the_age_today(app, clock):
    born = date(1949, 5, 21)  # the test clock is in March 2026: 76
    with app.test_request_context():
        assert formats.birth_date(born) == "May 21, 1949 (age 76)"
        with force_locale("es"):
            assert formats.birth_date(born) == "21 de mayo de 1949 (76 años)"


def test_message_states_in_words(app):
    with app.test_request_context():
        labels = app.jinja_env.filters
        assert labels["message_status"]("cancelled") == "Not sent: no longer needed"
        assert labels["message_kind"]("clinic_cancellation") == "Cancelled by the clinic"
        assert labels["message_channel"]("sms") == "Text message"
        assert labels["message_status"]("unknown") == "unknown"


def test_a_share_as_each_reader_writes_a_percentage(app):
    with app.test_request_context():
        assert formats.percent(0.75) == "75%"
        assert formats.percent(None) == ""
        with force_locale("ht"):  # Haitian Creole, as French, puts a no-break space before it
            assert formats.percent(0.75) == "75\u00a0%"
        with force_locale("es"):  # the US Spanish the catalog is written for does not
            assert formats.percent(0.5) == "50%"
