"""The residents' pages: server-rendered HTML that works without JavaScript."""

from flask import Blueprint

bp = Blueprint("resident", __name__)

from booking.resident import book, dose_two, find, manage, preregister  # noqa: E402, F401
