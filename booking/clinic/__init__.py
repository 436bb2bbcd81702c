"""The clinic console: schedules, capacity, closings, the day's roster and exports."""

from flask import Blueprint

bp = Blueprint("clinic", __name__, url_prefix="/clinic")

from booking.clinic import keys, standby, views  # noqa: E402, F401
