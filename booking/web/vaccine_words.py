"""The vaccine in plain words for templates: the Jinja globals every page uses to name it.

Templates never build the words themselves: ``booking_vaccine(reservation)`` goes through
``products.describe_reservation`` (the one helper for a booking), ``slot_vaccine(slot)``
through ``products.describe`` (a time nobody has booked yet). The products come from the
request's session, whose identity map turns a page of slots into one query per product.
"""

from __future__ import annotations

from flask import Flask

from booking.db import db
from booking.models import Reservation, Slot
from booking.services import products
from booking.services.inventory import SERVICES
from booking.services.text import Msg


def booking_vaccine(reservation: Reservation, dose: int | None = None) -> Msg:
    """A booking's vaccine, e.g. "COVID-19 vaccine (Moderna), dose 1 of 2".

    ``dose`` names the dose a hold will be when it is not yet recorded on it: a hold chosen
    on the "dose 2 only" page is dose 2 from the start, though it is marked so on confirming.
    """
    if dose is None:
        return products.describe_booking(db.session, reservation)
    return products.describe(products.reservation_product(db.session, reservation), dose)


def slot_vaccine(slot: Slot) -> Msg:
    """A slot's vaccine, for times nobody has booked yet."""
    return products.describe_slot(db.session, slot)


def service_words(code: str) -> str:
    """A service code in words ("covid19" -> "COVID-19 vaccine"), for lists of services."""
    return SERVICES.get(code, code)


def init_app(app: Flask) -> None:
    """Make the helpers Jinja globals."""
    app.jinja_env.globals.update(
        booking_vaccine=booking_vaccine, slot_vaccine=slot_vaccine, service_words=service_words
    )
