"""The waiting room's pages: join, wait, get admitted; and its metrics for operators.

The queue itself (Redis, Lua, tokens) lives in the top-level ``admission`` package, which knows
nothing of Flask; this package adapts it to pages, with the gate on holds and confirms and the
rest the API shares in ``booking.web``.
"""

from flask import Blueprint

bp = Blueprint("waiting", __name__)

from booking.waiting import metrics, views  # noqa: E402, F401
