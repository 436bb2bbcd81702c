"""The state admins' console."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from booking.admin import (  # noqa: E402, F401
    accounts,
    clinics,
    eligibility,
    messages,
    providers,
    queue,
    vaccines,
)
