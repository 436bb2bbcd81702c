"""The app's AdmissionQueue, its settings from config, and the remaining-inventory count."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from redis.exceptions import RedisError

from admission.control import AdmissionControl, ControlConfig
from admission.queue import DEFAULT_PREFIX, AdmissionQueue
from admission.settings import QueueSettings
from booking.clock import now
from booking.config import ConfigError
from booking.db import db
from booking.redis_client import get_redis, redis_of
from booking.services.inventory import remaining_appointments
from booking.web.captcha import CaptchaConfig

log = logging.getLogger(__name__)
_EXT = "fairslot.queue"
INVENTORY_REFRESH_SECONDS = 10


def defaults_from_config(config: Any) -> QueueSettings:
    """The environment's queue settings (admins may override them live)."""
    opens = config.get("QUEUE_OPENS_AT")
    return QueueSettings(
        mode=config["QUEUE_MODE"],
        max_active=config["QUEUE_MAX_ACTIVE"],
        admit_per_minute=config["QUEUE_ADMIT_PER_MINUTE"],
        opens_at=datetime.fromisoformat(opens) if isinstance(opens, str) and opens else opens,
        prequeue_minutes=config["QUEUE_PREQUEUE_MINUTES"],
        session_minutes=config["QUEUE_SESSION_MINUTES"],
        idle_minutes=config["QUEUE_IDLE_MINUTES"],
    )


def control_from_config(config: Any) -> ControlConfig:
    """The admission controller's bounds and target from the FAIRSLOT_QUEUE_* settings."""
    try:
        return ControlConfig(
            enabled=bool(config["QUEUE_AUTOTUNE"]),
            min_per_minute=config["QUEUE_ADMIT_MIN_PER_MINUTE"],
            max_per_minute=config["QUEUE_ADMIT_MAX_PER_MINUTE"],
            target_ms=config["QUEUE_TARGET_P99_MS"],
        )
    except ValueError as exc:
        raise ConfigError(
            f"FAIRSLOT_QUEUE_ADMIT_MIN_PER_MINUTE, _MAX_PER_MINUTE, _TARGET_P99_MS: {exc}"
        ) from None


def init_app(app: Flask) -> None:
    """Create the app's queue, and its admission controller, on its Redis."""
    defaults = defaults_from_config(app.config)
    if app.config["QUEUE_POLL_BUDGET"] < 1:
        raise ConfigError("FAIRSLOT_QUEUE_POLL_BUDGET must be at least 1 poll a second")
    redis = redis_of(app)
    control = AdmissionControl(redis, DEFAULT_PREFIX, control_from_config(app.config))
    app.extensions[_EXT] = AdmissionQueue(
        redis,
        defaults,
        rng=app.config.get("QUEUE_RNG"),
        control=control,
        poll_budget=float(app.config["QUEUE_POLL_BUDGET"]),
    )


def get_queue() -> AdmissionQueue:
    """The current app's admission queue."""
    return queue_of(current_app)


def queue_of(app: Flask) -> AdmissionQueue:
    """``app``'s admission queue (outside any app context)."""
    queue: AdmissionQueue = app.extensions[_EXT]
    return queue


def current_settings() -> QueueSettings:
    """Live settings, or the environment's defaults while Redis is unreachable."""
    queue = get_queue()
    try:
        return queue.settings()
    except RedisError:
        return queue.defaults


def captcha_config() -> CaptchaConfig | None:
    """hCaptcha settings, or None when it is off (no keys configured)."""
    config = current_app.config
    if not (config.get("HCAPTCHA_SITE_KEY") and config.get("HCAPTCHA_SECRET")):
        return None
    hostnames = config.get("HCAPTCHA_HOSTNAMES") or urlsplit(config["PUBLIC_URL"]).hostname or ""
    return CaptchaConfig(
        site_key=config["HCAPTCHA_SITE_KEY"],
        secret=config["HCAPTCHA_SECRET"],
        verify_url=config["HCAPTCHA_VERIFY_URL"],
        hostnames=frozenset(h.strip() for h in hostnames.split(",") if h.strip()),
        timeout_seconds=float(config["HCAPTCHA_TIMEOUT_SECONDS"]),
        unreachable_policy=config["HCAPTCHA_UNREACHABLE"],
    )


def inventory_fresh(counted_at: float | None, moment: float) -> bool:
    """Whether a count made at ``counted_at`` is recent enough not to count again."""
    return counted_at is not None and moment - counted_at < INVENTORY_REFRESH_SECONDS


def refresh_inventory() -> None:
    """Recount free appointments at most every few seconds across all processes."""
    queue = get_queue()
    moment = now()
    # Every queue answer tells this process when the count was made: while that is recent,
    # not even Redis is asked (a poll is then one round trip).
    if inventory_fresh(queue.inventory_seen_at, moment.timestamp()):
        return
    _, counted_at = queue.inventory()
    if inventory_fresh(counted_at, moment.timestamp()):
        return
    # One process recounts; the others keep using the last figure.
    lock = f"{queue.prefix}:inventory_lock"
    if not get_redis().set(lock, 1, nx=True, ex=INVENTORY_REFRESH_SECONDS):
        return
    remaining = remaining_appointments(
        db.session, now=moment, horizon_days=current_app.config["BOOKING_DAYS"]
    )
    queue.set_inventory(remaining, moment.timestamp())
