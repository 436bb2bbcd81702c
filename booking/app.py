"""The application factory: nothing is built at import time, everything here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from booking import (
    logs,
    models,  # noqa: F401 - every table registered on the metadata
)
from booking.config import load_config
from booking.db import db
from booking.redis_client import init_redis
from booking.web import booking_health, fast_polls, headers, input_guard

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the FairSlot app from FAIRSLOT_* variables, with ``config`` overriding them."""
    settings = load_config(overrides=config)
    app = Flask(
        "booking",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings["INSTANCE_PATH"],
    )
    app.config.update(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    # Waiting-room polls are answered in front of Flask; the proxy fix, if any, wraps both, so
    # their rate limit counts the client's address.
    fast_polls.init_app(app)
    if app.config["PROXY_COUNT"]:
        # Trust exactly as many X-Forwarded-For hops as there are proxies we run: a client
        # cannot choose its own address (and so its rate-limit bucket) by adding entries.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=app.config["PROXY_COUNT"],
            x_proto=app.config["PROXY_COUNT"],
            x_host=app.config["PROXY_COUNT"],
        )
    if not app.debug and not app.testing:
        logs.configure(app.config["LOG_FORMAT"])
    if app.config["FAIRSLOT_ENV"] == "production" and not app.config["METRICS_TOKEN"]:
        log.warning("FAIRSLOT_METRICS_TOKEN is not set: /metrics answers 404 until it is")

    db.init_app(app)
    init_redis(app)
    csrf.init_app(app)
    logs.init_app(app)  # first: every later hook's log lines carry the request id
    input_guard.init_app(app)  # before any other hook or view reads the request's text
    headers.init_app(app)
    booking_health.init_app(app)  # early: its timing then covers the other hooks too

    from booking import errors, i18n, jobs, limits
    from booking.admin import bp as admin_bp
    from booking.agent import bp as agent_bp
    from booking.api import bp as api_bp
    from booking.cli import register_cli
    from booking.clinic import bp as clinic_bp
    from booking.demo import outbox as demo_outbox
    from booking.health import bp as health_bp
    from booking.opendata import bp as opendata_bp
    from booking.opendata.views import init_app as init_opendata
    from booking.resident import bp as resident_bp
    from booking.staff.views import bp as staff_bp
    from booking.waiting import bp as waiting_bp
    from booking.web import access, formats, gate, queue_state, vaccine_words

    i18n.init_app(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(resident_bp)
    app.register_blueprint(waiting_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(opendata_bp)
    app.register_blueprint(clinic_bp)
    init_opendata(app)
    app.register_blueprint(agent_bp)
    access.init_app(app)
    queue_state.init_app(app)
    gate.init_app(app)
    vaccine_words.init_app(app)
    formats.init_app(app)
    csrf.exempt(api_bp)  # the API takes no cookies for authority, so there is nothing to forge
    csrf.exempt(health_bp)
    errors.register(app)
    limits.init_app(app)
    register_cli(app)
    jobs.init_app(app)
    demo_outbox.init_app(app)
    return app
