"""The state admins' console."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from booking.admin import (  # noqa: E402, F401
    accounts,
    audit,
    clinics,
    dashboard,
    eligibility,
    formatting,
    invitations,
    messages,
    providers,
    queue,
    vaccines,
)
