"""The residents' pages: server-rendered HTML that works without JavaScript."""

from flask import Blueprint

bp = Blueprint("resident", __name__)

from booking.resident import (  # noqa: E402, F401
    book,
    dose_two,
    find,
    invitation,
    manage,
    preregister,
)
