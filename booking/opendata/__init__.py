"""Open availability data: SMART Scheduling Links bulk publication and a summary feed."""

from flask import Blueprint

bp = Blueprint("opendata", __name__)

from booking.opendata import views  # noqa: E402, F401
