"""JSON API v1: the residents' flow for partners and apps, errors as RFC 9457 problems."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from booking.api import (  # noqa: E402, F401
    clinic_systems,
    clinics,
    courses,
    holds,
    openapi,
    preregistrations,
    queue,
    reservations,
)
from booking.web import problems  # noqa: E402

problems.register(bp)
