"""The waiting room's HTTP layer: join, wait, get admitted, and the gate on holds and confirms.

The queue itself (Redis, Lua, tokens) lives in the top-level ``admission`` package, which knows
nothing of Flask; this package adapts it to requests, cookies and templates.
"""

from flask import Blueprint

bp = Blueprint("waiting", __name__)

from booking.waiting import metrics, views  # noqa: E402, F401
