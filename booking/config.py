"""Configuration read from FAIRSLOT_* environment variables.

Every setting has one name in the environment and one key in ``app.config``; the table in the
README is generated from the same list of ``Setting`` rows, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booking.messages.settings import MESSAGE_SETTINGS

ENVIRONMENTS = ("production", "development", "demo", "test")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _int(value: str) -> int:
    return int(value)


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _str(value: str) -> str:
    return value


@dataclass(frozen=True)
class Setting:
    """One FAIRSLOT_* environment variable and the app.config key it fills."""

    env: str
    key: str
    default: Any
    parse: Callable[[str], Any]
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FAIRSLOT_ENV",
        "FAIRSLOT_ENV",
        "production",
        _str,
        "`production`, `development`, `demo` or `test`. Outside demo and test a secret key is "
        "required.",
    ),
    Setting(
        "FAIRSLOT_SECRET_KEY",
        "SECRET_KEY",
        None,
        _str,
        "Signs sessions, CSRF tokens and manage links. Required in production.",
    ),
    Setting(
        "FAIRSLOT_DATABASE_URL",
        "DATABASE_URL",
        None,
        _str,
        "SQLAlchemy URL, e.g. `postgresql+psycopg://fairslot@db/fairslot`. Unset: SQLite in "
        "`instance/fairslot.sqlite3`.",
    ),
    Setting(
        "FAIRSLOT_REDIS_URL",
        "REDIS_URL",
        None,
        _str,
        "Redis URL, e.g. `redis://cache:6379/0`. Unset: an in-process Redis (fakeredis).",
    ),
    Setting(
        "FAIRSLOT_HOLD_MINUTES",
        "HOLD_MINUTES",
        10,
        _int,
        "How long a chosen slot is held while the resident fills in the form.",
    ),
    Setting(
        "FAIRSLOT_BOOKING_DAYS",
        "BOOKING_DAYS",
        14,
        _int,
        "How many days ahead residents can search and book.",
    ),
    Setting(
        "FAIRSLOT_LOOKUP_RATE_LIMIT",
        "LOOKUP_RATE_LIMIT",
        "10 per minute;60 per hour",
        _str,
        "Per-client limit on reservation look-ups by code and date of birth.",
    ),
    Setting(
        "FAIRSLOT_HOLD_RATE_LIMIT",
        "HOLD_RATE_LIMIT",
        "30 per minute",
        _str,
        "Per-client limit on placing holds.",
    ),
    Setting(
        "FAIRSLOT_PROXY_COUNT",
        "PROXY_COUNT",
        0,
        _int,
        "Number of trusted reverse proxies in front of the app; the client address is taken "
        "from that many `X-Forwarded-For` hops and no more.",
    ),
    Setting(
        "FAIRSLOT_PUBLIC_URL",
        "PUBLIC_URL",
        "http://127.0.0.1:5000",
        _str,
        "Base URL used in links that leave the site (messages, open data).",
    ),
    Setting(
        "FAIRSLOT_HELPLINE_PHONE",
        "HELPLINE_PHONE",
        "2-1-1",
        _str,
        "The phone line residents can call to book by phone.",
    ),
    Setting(
        "FAIRSLOT_DB_POOL_SIZE",
        "DB_POOL_SIZE",
        10,
        _int,
        "Database connections kept per process (PostgreSQL).",
    ),
    Setting(
        "FAIRSLOT_QUEUE_MODE",
        "QUEUE_MODE",
        "auto",
        _str,
        "`off` (everyone passes), `auto` (queue only while active users exceed the limit), "
        "`always`, or `paused` (nobody is admitted). Admins can change it live.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_MAX_ACTIVE",
        "QUEUE_MAX_ACTIVE",
        500,
        _int,
        "At most this many admitted users active in the booking funnel at once.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_ADMIT_PER_MINUTE",
        "QUEUE_ADMIT_PER_MINUTE",
        300,
        _int,
        "At most this many new admissions per minute.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_OPENS_AT",
        "QUEUE_OPENS_AT",
        None,
        _str,
        "When booking opens (ISO 8601 with offset, e.g. `2026-03-04T06:00:00-05:00`). Arrivals "
        "in the pre-queue window before it get a random place among themselves.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_PREQUEUE_MINUTES",
        "QUEUE_PREQUEUE_MINUTES",
        30,
        _int,
        "Length of the pre-queue window before `FAIRSLOT_QUEUE_OPENS_AT`.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_SESSION_MINUTES",
        "QUEUE_SESSION_MINUTES",
        20,
        _int,
        "How long an admission token lasts; it is renewed while the user is active.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_IDLE_MINUTES",
        "QUEUE_IDLE_MINUTES",
        5,
        _int,
        "A waiting ticket not polled, or an admitted user not seen, for this long loses its "
        "place, which goes to the next person.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_JOIN_RATE_LIMIT",
        "QUEUE_JOIN_RATE_LIMIT",
        "10 per minute",
        _str,
        "Per-client limit on joining the waiting room.",
    ),
    Setting(
        "FAIRSLOT_QUEUE_POLL_RATE_LIMIT",
        "QUEUE_POLL_RATE_LIMIT",
        "120 per minute",
        _str,
        "Per-client limit on waiting-room status polls, counted in the queue's POLL script.",
    ),
    Setting(
        "FAIRSLOT_HCAPTCHA_SITE_KEY",
        "HCAPTCHA_SITE_KEY",
        None,
        _str,
        "hCaptcha site key. hCaptcha is off unless both the site key and the secret are set.",
    ),
    Setting(
        "FAIRSLOT_HCAPTCHA_SECRET",
        "HCAPTCHA_SECRET",
        None,
        _str,
        "hCaptcha secret, for server-side verification.",
    ),
    Setting(
        "FAIRSLOT_HCAPTCHA_VERIFY_URL",
        "HCAPTCHA_VERIFY_URL",
        "https://api.hcaptcha.com/siteverify",
        _str,
        "The siteverify endpoint (tests point it at a local stub).",
    ),
    Setting(
        "FAIRSLOT_HCAPTCHA_HOSTNAMES",
        "HCAPTCHA_HOSTNAMES",
        None,
        _str,
        "Comma-separated hostnames a solved challenge must come from. Default: the host of "
        "`FAIRSLOT_PUBLIC_URL`.",
    ),
    Setting(
        "FAIRSLOT_HCAPTCHA_TIMEOUT_SECONDS",
        "HCAPTCHA_TIMEOUT_SECONDS",
        3,
        _int,
        "How long to wait for siteverify.",
    ),
    Setting(
        "FAIRSLOT_HCAPTCHA_UNREACHABLE",
        "HCAPTCHA_UNREACHABLE",
        "open",
        _str,
        "When siteverify cannot be reached (timeout, 5xx): `open` lets the person join (rate "
        "limits and one ticket per browser still apply) and counts it; `closed` refuses and "
        "asks them to try again.",
    ),
    Setting(
        "FAIRSLOT_METRICS_TOKEN",
        "METRICS_TOKEN",
        None,
        _str,
        "If set, `/metrics` requires `Authorization: Bearer <token>`.",
    ),
    Setting(
        "FAIRSLOT_STAFF_IDLE_MINUTES",
        "STAFF_IDLE_MINUTES",
        30,
        _int,
        "A staff session unused for this long ends.",
    ),
    Setting(
        "FAIRSLOT_STAFF_ABSOLUTE_HOURS",
        "STAFF_ABSOLUTE_HOURS",
        12,
        _int,
        "A staff session ends this long after sign-in, however active.",
    ),
    Setting(
        "FAIRSLOT_STAFF_MAX_FAILURES",
        "STAFF_MAX_FAILURES",
        5,
        _int,
        "Failed sign-ins in a row before the account is locked.",
    ),
    Setting(
        "FAIRSLOT_STAFF_LOCKOUT_MINUTES",
        "STAFF_LOCKOUT_MINUTES",
        15,
        _int,
        "How long a locked account stays locked.",
    ),
    Setting(
        "FAIRSLOT_STAFF_SIGNIN_RATE_LIMIT",
        "STAFF_SIGNIN_RATE_LIMIT",
        "10 per minute;50 per hour",
        _str,
        "Per-client limit on staff sign-in attempts.",
    ),
    Setting(
        "FAIRSLOT_OPENDATA_MAX_AGE",
        "OPENDATA_MAX_AGE",
        300,
        _int,
        "`Cache-Control: max-age` (seconds) on the open availability data.",
    ),
    Setting(
        "FAIRSLOT_OPENDATA_REFRESH_SECONDS",
        "OPENDATA_REFRESH_SECONDS",
        60,
        _int,
        "The open data is rebuilt at most this often (one process does it; the others serve the "
        "copy in Redis).",
    ),
    Setting(
        "FAIRSLOT_OPENDATA_RATE_LIMIT",
        "OPENDATA_RATE_LIMIT",
        "600 per minute",
        _str,
        "Per-client limit on the open data endpoints (generous: it is public and cached).",
    ),
    Setting(
        "FAIRSLOT_AGENT_LOOKUP_RATE_LIMIT",
        "AGENT_LOOKUP_RATE_LIMIT",
        "20 per minute;300 per hour",
        _str,
        "Per-agent limit on reservation look-ups in the 2-1-1 console (counted per agent, not "
        "per address, since a call center shares one).",
    ),
    Setting(
        "FAIRSLOT_SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_SECURE",
        None,
        _bool,
        "Send cookies over HTTPS only. Default: on in production, off otherwise.",
    ),
    *(Setting(*row) for row in MESSAGE_SETTINGS),
)


def _instance_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("FAIRSLOT_INSTANCE_PATH") or Path.cwd() / "instance")


def _demo_secret(instance: Path) -> str:
    """Return a per-installation random key for demo/dev use, kept in instance/."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "demo-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the app config from the environment, then apply explicit overrides."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            config[setting.key] = setting.default
            continue
        try:
            config[setting.key] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}={raw!r} is not valid: {exc}") from None
    config.update(overrides)

    env = config["FAIRSLOT_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"FAIRSLOT_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    instance = Path(config.get("INSTANCE_PATH") or _instance_path(environ))
    config["INSTANCE_PATH"] = str(instance)
    if not config.get("SECRET_KEY"):
        if env == "test":
            config["SECRET_KEY"] = secrets.token_urlsafe(32)
        elif env in {"demo", "development"}:
            config["SECRET_KEY"] = _demo_secret(instance)
        else:
            raise ConfigError(
                "FAIRSLOT_SECRET_KEY is not set. In production FairSlot will not start without "
                "it: set it to a long random value, e.g. "
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"`, '
                "or set FAIRSLOT_ENV=demo to run the local demo."
            )
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'fairslot.sqlite3'}"
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = env == "production"
    config["TESTING"] = env == "test" or bool(config.get("TESTING"))
    return config
