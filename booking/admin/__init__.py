"""The state admins' console."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from booking.admin import accounts, clinics, eligibility, messages, queue, vaccines  # noqa: E402, F401
