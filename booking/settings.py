"""The FAIRSLOT_* settings: one row each, with its default, its parser and its sentence.

``SETTINGS`` is the one table of them: each row names a variable and gives its default, how its
value is parsed and checked, and the sentence that documents it; its ``app.config`` key is the
name without ``FAIRSLOT_`` (``FAIRSLOT_ENV`` alone keeps it). ``booking.config`` reads them from
the environment; the README's configuration table is generated from these rows by
``make config-docs``, and a test fails when the two differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENVIRONMENTS = ("production", "development", "demo", "test")


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _smtp_security(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in {"none", "starttls", "tls"}:
        raise ValueError("expected none, starttls or tls")
    return lowered


def _host_list(value: str) -> tuple[str, ...]:
    """Comma-separated host names (no scheme, port or path), lower-cased."""
    hosts = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if any(not re.fullmatch(r"\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?", host) for host in hosts):
        raise ValueError("expected host names such as fairslot.example.org, comma-separated")
    return hosts


def _host_ports(value: str) -> tuple[tuple[str, int], ...]:
    """Comma-separated ``host:port`` pairs (the Redis sentinels)."""
    pairs = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        host, _, port = part.rpartition(":")
        if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]", host) or not port.isdigit():
            raise ValueError("expected host:port pairs such as sentinel-1:26379,sentinel-2:26379")
        if not 0 < int(port) < 65536:
            raise ValueError(f"port {port} is out of range")
        pairs.append((host.strip("[]"), int(port)))
    return tuple(pairs)


def _log_format(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in {"json", "text"}:
        raise ValueError("expected json or text")
    return lowered


def _full_phone(value: str) -> str:
    """A phone number anyone can dial from anywhere: ten digits (a leading 1 or +1 allowed)."""
    if re.search(r"[^\d\s()+.\-]", value):
        raise ValueError("expected a phone number such as +1-877-211-6277")
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01":
        raise ValueError("expected a full ten-digit number such as +1-877-211-6277, not 2-1-1")
    return value.strip()


def _uri(value: str) -> str:
    """An absolute URI (``https://...`` or ``urn:...``), as FHIR wants an identifier system."""
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+", value) or len(value) > 200:
        raise ValueError("expected an absolute URI such as https://www.example.gov/clinics")
    return value


def _contact(value: str) -> str:
    """A security contact as security.txt's URI: ``mailto:`` an address, or an https page."""
    value = value.strip()
    if re.fullmatch(r"[^@\s:/]{1,64}@[^@\s/]+\.[^@\s/]+", value):
        return f"mailto:{value}"
    if re.fullmatch(r"(mailto:[^@\s]+@|https://)[^\s]+", value) and len(value) <= 200:
        return value
    raise ValueError("expected an email address or an https:// address")


def _hours(value: str) -> tuple[int, ...]:
    """A comma-separated list of whole hours, e.g. ``24,2``; empty means none."""
    hours = tuple(sorted({int(part) for part in value.split(",") if part.strip()}, reverse=True))
    if any(not 1 <= h <= 24 * 14 for h in hours):
        raise ValueError("each value must be a whole number of hours from 1 to 336")
    return hours


def _housekeeping_seconds(value: str) -> int:
    """Seconds between housekeeping runs, 1 to 600: the relay looks 15 minutes ahead."""
    seconds = int(value)
    if not 1 <= seconds <= 600:
        raise ValueError("expected 1 to 600 seconds (the relay schedules 15 minutes ahead)")
    return seconds


@dataclass(frozen=True)
class Setting:
    """One FAIRSLOT_* environment variable: its default, its parser and its documentation.

    ``shown`` is the README's default column where the value alone would mislead (a default
    worked out at start-up, such as the SQLite file in the instance folder).
    """

    env: str
    default: Any
    parse: Callable[[str], Any]
    doc: str
    shown: str | None = None

    @property
    def key(self) -> str:
        """The app.config key: the name without FAIRSLOT_, but FAIRSLOT_ENV, which is read whole."""
        return self.env if self.env == "FAIRSLOT_ENV" else self.env.removeprefix("FAIRSLOT_")

    @property
    def shown_default(self) -> str:
        """The default as the README's table shows it."""
        if self.shown is not None:
            return self.shown
        if self.default is None:
            return "none"
        if isinstance(self.default, tuple):
            return f"`{','.join(str(part) for part in self.default)}`"
        return f"`{self.default}`"


# One row per setting, laid out as the table it is.
# fmt: off
SETTINGS: tuple[Setting, ...] = (
    Setting("FAIRSLOT_ENV", "production", str,
            "`production`, `development`, `demo` or `test`. Outside demo, development and test the "
            "app refuses to start without `FAIRSLOT_SECRET_KEY`."),
    Setting("FAIRSLOT_SECRET_KEY", None, str,
            "Signs sessions, CSRF tokens and derives manage links. **Required in production**; "
            "there is no fallback. In demo/development a random key is generated once into "
            "`instance/demo-secret-key`."),
    Setting("FAIRSLOT_DATABASE_URL", None, str,
            "SQLAlchemy URL, e.g. `postgresql+psycopg://fairslot@db/fairslot`.",
            shown="SQLite in `instance/`"),
    Setting("FAIRSLOT_REDIS_URL", None, str,
            "e.g. `redis://cache:6379/0`. Holds the waiting room, the rate-limit counters, the job "
            "queue and the shared copy of the open data. With `FAIRSLOT_REDIS_SENTINELS` set, "
            "only its database number and password are used (e.g. `redis://:secret@primary/0`).",
            shown="in-process fakeredis"),
    Setting("FAIRSLOT_REDIS_SENTINELS", (), _host_ports,
            "Redis Sentinel: the sentinels, `host:port` comma-separated. Set, every Redis client "
            "(queue, rate limits, RQ, open-data cache) asks them for the primary and follows a "
            "failover. See docs/operations.md.", shown="none"),
    Setting("FAIRSLOT_REDIS_SENTINEL_SERVICE", "fairslot", str,
            "The service (master) name the sentinels monitor."),
    Setting("FAIRSLOT_LOG_FORMAT", None, _log_format,
            "`json`: one JSON object per line (time, level, logger, message, `request_id`, and "
            "for each answered request its method, path, status and duration); `text`: plain "
            "lines. The request id is the `X-Request-ID` header nginx passes (or a new one).",
            shown="`json` in production, else `text`"),
    Setting("FAIRSLOT_REQUEST_LOG", True, _bool,
            "Log one `fairslot.request` line per answered request (method, path, status, "
            "duration, client). About 45 µs of CPU each; off when nginx's access log (with "
            "`$request_id`) is enough. Other lines carry the request id either way."),
    Setting("FAIRSLOT_INSTANCE_PATH", None, str,
            "Where the embedded SQLite database and the demo key live.", shown="`./instance`"),
    Setting("FAIRSLOT_HOLD_MINUTES", 10, int,
            "How long a chosen slot is held while the resident fills in the form."),
    Setting("FAIRSLOT_BOOKING_DAYS", 14, int, "How many days ahead residents can search and book."),
    Setting("FAIRSLOT_COMPANION_BOOKING", False, _bool,
            "Let one waiting-room admission book one companion (a caregiver, say) at the same "
            "clinic on the same day, after its own booking. Off: one admission, one booking."),
    Setting("FAIRSLOT_LOOKUP_RATE_LIMIT", "10 per minute;60 per hour", str,
            "Per-client limit on look-ups by confirmation code and date of birth (HTML and API)."),
    Setting("FAIRSLOT_HOLD_RATE_LIMIT", "30 per minute", str, "Per-client limit on placing holds."),
    Setting("FAIRSLOT_PROXY_COUNT", 0, int,
            "Number of trusted reverse proxies in front of the app. The client address is read "
            "from exactly that many `X-Forwarded-For` hops, so a forged header cannot choose its "
            "own rate-limit bucket."),
    Setting("FAIRSLOT_PUBLIC_URL", "http://127.0.0.1:5000", str,
            "The address residents use: every absolute link (messages, the confirmation page, "
            "open data) is built from it, never from the request, and its host is the one host "
            "served (with `FAIRSLOT_TRUSTED_HOSTS`). Production refuses to start when it is not "
            "https or points at a loopback or private address, unless "
            "`FAIRSLOT_PRIVATE_NETWORK` is on."),
    Setting("FAIRSLOT_TRUSTED_HOSTS", (), _host_list,
            "Host names served besides the host of `FAIRSLOT_PUBLIC_URL`, comma-separated (a "
            "leading dot, `.example.org`, takes its subdomains too): the address a load "
            "balancer's health check uses, say. A request for any other `Host` gets 400.",
            shown="none"),
    Setting("FAIRSLOT_PRIVATE_NETWORK", False, _bool,
            "Let production run with a plain-http, loopback or private-address "
            "`FAIRSLOT_PUBLIC_URL`, and other providers' feeds on private addresses: for a "
            "closed network or a benchmark, never for the public. Without it, production "
            "fetches a provider feed only from public internet addresses."),
    Setting("FAIRSLOT_HELPLINE_PHONE", "2-1-1", str,
            "The phone line shown to residents who would rather book by phone."),
    Setting("FAIRSLOT_BOOKING_PHONE", "+1-877-211-6277", _full_phone,
            "The helpline's full number, for readers outside the state: the open data's "
            "`booking-phone` on every free Slot, and the phone of a Location whose clinic has "
            "none. Phone parsers refuse `2-1-1`; the default is Mass 2-1-1's toll-free line."),
    Setting("FAIRSLOT_DB_POOL_SIZE", 10, int,
            "Database connections kept per process (plus as many overflow)."),
    Setting("FAIRSLOT_SESSION_COOKIE_SECURE", None, _bool,
            "Send the session cookie over HTTPS only.", shown="on in production"),
    Setting("FAIRSLOT_QUEUE_MODE", "auto", str,
            "The waiting room: `off` (everyone passes), `auto` (a line forms only while active "
            "users exceed the limit), `always` (everyone passes through the waiting room), "
            "`paused` (nobody is admitted; the page says why). Admins can change it live."),
    Setting("FAIRSLOT_QUEUE_MAX_ACTIVE", 500, int,
            "At most this many admitted users active in the booking funnel at once."),
    Setting("FAIRSLOT_QUEUE_ADMIT_PER_MINUTE", 300, int,
            "At most this many new admissions per minute."),
    Setting("FAIRSLOT_QUEUE_AUTOTUNE", False, _bool,
            "Let the admission rate follow the booking path's own p99 latency and errors, "
            "measured on the server (starting from `FAIRSLOT_QUEUE_ADMIT_PER_MINUTE`, within the "
            "two bounds below); admins see it and can pin a rate (docs/performance.md)."),
    Setting("FAIRSLOT_QUEUE_ADMIT_MIN_PER_MINUTE", 30, int,
            "With autotune: the controller never admits fewer per minute."),
    Setting("FAIRSLOT_QUEUE_ADMIT_MAX_PER_MINUTE", 3000, int,
            "With autotune: the controller never admits more per minute."),
    Setting("FAIRSLOT_TRUST_REQUEST_START", False, _bool,
            "With autotune behind a proxy that stamps `X-Request-Start` itself, replacing any a "
            "client sent (the shipped nginx config does), count the time a booking request "
            "waited for a worker in its latency. Needs `FAIRSLOT_PROXY_COUNT` too."),
    Setting("FAIRSLOT_QUEUE_TARGET_P99_MS", 500, int,
            "The booking path's latency target (p99, ms): the controller admits faster while at "
            "most 1% of booking requests are slower (or fail), slower as soon as more are."),
    Setting("FAIRSLOT_QUEUE_OPENS_AT", None, str,
            "When booking opens, ISO 8601 with offset (`2026-03-04T06:00:00-05:00`). Before the "
            "pre-queue window the waiting room is closed; within it, arrivals get a random place "
            "among themselves at opening."),
    Setting("FAIRSLOT_QUEUE_PREQUEUE_MINUTES", 30, int,
            "Length of the pre-queue window before `FAIRSLOT_QUEUE_OPENS_AT`."),
    Setting("FAIRSLOT_QUEUE_SESSION_MINUTES", 20, int,
            "How long an admission token lasts; renewed while the user is active."),
    Setting("FAIRSLOT_QUEUE_IDLE_MINUTES", 5, int,
            "A waiting ticket not polled, or an admitted user not seen, for this long gives up its "
            "place to the next person."),
    Setting("FAIRSLOT_QUEUE_POLL_BUDGET", 200, int,
            "Status polls a second the whole line may make, across all app servers: each "
            "waiting person is told to poll less often the farther back they are, so the total "
            "stays under this for lines up to budget x 0.7 x the idle timeout (in seconds) "
            "long (docs/performance.md)."),
    Setting("FAIRSLOT_QUEUE_JOIN_RATE_LIMIT", "10 per minute", str,
            "Per-client limit on joining the waiting room."),
    Setting("FAIRSLOT_FAST_POLLS", True, _bool,
            "Answer the waiting room's status polls (the API's and the page script's) in a small "
            "WSGI layer before Flask: the same answer for about half the CPU. Off: Flask "
            "answers every poll."),
    Setting("FAIRSLOT_QUEUE_POLL_RATE_LIMIT", "120 per minute", str,
            "Per-client limit on status polls, counted in the queue's POLL script (several limits: "
            "`10 per second; 120 per minute`; empty: none)."),
    Setting("FAIRSLOT_HCAPTCHA_SITE_KEY", None, str,
            "hCaptcha site key. hCaptcha is off unless both key and secret are set (as in the "
            "demo)."),
    Setting("FAIRSLOT_HCAPTCHA_SECRET", None, str,
            "hCaptcha secret, used for server-side verification."),
    Setting("FAIRSLOT_HCAPTCHA_VERIFY_URL", "https://api.hcaptcha.com/siteverify", str,
            "The siteverify endpoint (the tests point it at a local stub)."),
    Setting("FAIRSLOT_HCAPTCHA_HOSTNAMES", None, str,
            "Hostnames a solved challenge must come from (comma-separated).",
            shown="host of `FAIRSLOT_PUBLIC_URL`"),
    Setting("FAIRSLOT_HCAPTCHA_TIMEOUT_SECONDS", 3, int, "How long to wait for siteverify."),
    Setting("FAIRSLOT_HCAPTCHA_UNREACHABLE", "open", str,
            "When siteverify times out or answers 5xx: `open` lets the person join (rate limits "
            "and one ticket per browser still apply, and it is logged); `closed` refuses and asks "
            "them to try again."),
    Setting("FAIRSLOT_PREREGISTRATION_RETENTION_DAYS", 30, int,
            "Days a preregistration is kept after the person withdraws or is vaccinated here; "
            "housekeeping then deletes it (the form says so)."),
    Setting("FAIRSLOT_STAFF_IDLE_MINUTES", 30, int, "A staff session unused for this long ends."),
    Setting("FAIRSLOT_STAFF_ABSOLUTE_HOURS", 12, int,
            "A staff session ends this long after sign-in, however active."),
    Setting("FAIRSLOT_STAFF_MAX_FAILURES", 5, int,
            "Failed sign-ins in a row before the account is locked."),
    Setting("FAIRSLOT_STAFF_LOCKOUT_MINUTES", 15, int, "How long a locked account stays locked."),
    Setting("FAIRSLOT_STAFF_SIGNIN_RATE_LIMIT", "10 per minute;50 per hour", str,
            "Per-client limit on staff sign-in attempts."),
    Setting("FAIRSLOT_OPENDATA_MAX_AGE", 300, int,
            "`Cache-Control: max-age` (seconds) on the open availability data."),
    Setting("FAIRSLOT_AVAILABILITY_MAX_AGE", 2, int,
            "`Cache-Control: public, max-age` (seconds) on the API's clinic search and slot "
            "lists, so nginx (deploy/nginx/fairslot.conf) answers a crowd's repeats from its "
            "cache; a hold still checks the place itself. 0 sends no such header."),
    Setting("FAIRSLOT_OPENDATA_REFRESH_SECONDS", 60, int,
            "The open data is rebuilt at most this often, by the workers (a housekeeping job) "
            "where they run, else by the request that finds it stale; the others serve the copy "
            "in Redis."),
    Setting("FAIRSLOT_OPENDATA_IDENTIFIER_SYSTEM", "urn:fairslot:clinic", _uri,
            "The `system` of the identifier (value: the clinic's id) every published Location "
            "carries beside its VTrckS PIN. Aggregators de-duplicate on it, so it does not follow "
            "`FAIRSLOT_PUBLIC_URL`: set it once to a URI the state owns (e.g. "
            "`https://www.mass.gov/fairslot/clinics`) and keep it when the site moves."),
    Setting("FAIRSLOT_PROVIDER_FEED_SECONDS", 300, int,
            "How often each registered provider feed (the provider finder's sources) is read."),
    Setting("FAIRSLOT_PROVIDER_FEED_MAX_MB", 50.0, float,
            "The most one provider feed may send, all its files together, after decompression; "
            "a larger one is refused."),
    Setting("FAIRSLOT_PROVIDER_FEED_TIMEOUT_SECONDS", 60.0, float,
            "The longest one provider feed's fetch may take, all its files together; a slower "
            "one is refused."),
    Setting("FAIRSLOT_PROVIDER_FEED_MAX_AGE_MINUTES", 60, int,
            "Search results show a provider's free appointments only while its copy is at most "
            "this old (from its last successful fetch); an older copy is not shown until the "
            "feed is read again."),
    Setting("FAIRSLOT_OPENDATA_RATE_LIMIT", "600 per minute", str,
            "Per-client limit on the open data endpoints (generous: public and cached)."),
    Setting("FAIRSLOT_AGENT_LOOKUP_RATE_LIMIT", "20 per minute;300 per hour", str,
            "Per-agent limit on look-ups in the 2-1-1 console (counted per signed-in agent, not "
            "per address: a call center shares one)."),
    Setting("FAIRSLOT_CLINIC_API_RATE_LIMIT", "120 per minute;3000 per hour", str,
            "Per-key limit on the clinic systems API (each clinic API key has its own count)."),
    Setting("FAIRSLOT_SECURITY_CONTACT", None, _contact,
            "Where vulnerabilities are reported: an email address or an https:// page, served "
            "as the `Contact` of `/.well-known/security.txt` (RFC 9116).",
            shown="`security@` the host of `FAIRSLOT_PUBLIC_URL`"),
    Setting("FAIRSLOT_METRICS_TOKEN", None, str,
            "If set, `/metrics` requires `Authorization: Bearer <token>`. In production `/metrics` "
            "answers only with it: unset, it answers 404 (and start-up logs a warning)."),
    Setting("FAIRSLOT_DEMO_OUTBOX", None, _bool,
            "Serve `/demo/outbox`, where anyone can read every message the demo outbox holds "
            "(names, phone numbers, personal links): for the demo and the browser tests. "
            "Production refuses to start with it on.",
            shown="on in demo and development"),
    Setting("FAIRSLOT_SMTP_HOST", None, str,
            "SMTP server for email. Unset: email goes to the demo outbox in demo, development and "
            "test, and is **not sent in production** (those messages fail, visibly to admins, "
            "until it is set)."),
    Setting("FAIRSLOT_SMTP_PORT", 587, int, "SMTP port."),
    Setting("FAIRSLOT_SMTP_USERNAME", None, str, "SMTP user, if the server wants a login."),
    Setting("FAIRSLOT_SMTP_PASSWORD", None, str, "SMTP password."),
    Setting("FAIRSLOT_SMTP_SECURITY", "starttls", _smtp_security,
            "`starttls` (upgrade a plain connection, usually port 587), `tls` (TLS from the first "
            "byte, usually port 465) or `none` (only for a relay on a trusted network). "
            "Certificates are verified."),
    Setting("FAIRSLOT_MAIL_FROM", None, str,
            "The From address of emails; HOST is the host of `FAIRSLOT_PUBLIC_URL`.",
            shown="`FairSlot <no-reply@HOST>`"),
    Setting("FAIRSLOT_SMS_API_URL", None, str,
            "A Twilio-compatible Messages endpoint, e.g. "
            "`https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json` (a form POST of "
            "`To`, `From`, `Body`; the answer's `sid` is kept). Unset: like `FAIRSLOT_SMTP_HOST`, "
            "for text messages."),
    Setting("FAIRSLOT_SMS_ACCOUNT_SID", None, str,
            "The SMS account id, sent as the HTTP basic-auth user."),
    Setting("FAIRSLOT_SMS_AUTH_TOKEN", None, str,
            "The SMS account's secret, the basic-auth password."),
    Setting("FAIRSLOT_SMS_FROM", None, str, "The sending number (E.164), sent as `From`."),
    Setting("FAIRSLOT_SMS_IDEMPOTENCY_HEADER", "Idempotency-Key", str,
            "Header carrying each message's idempotency key, so a send repeated after a crash is "
            "delivered once by a provider that honours it. Empty: not sent."),
    Setting("FAIRSLOT_DELIVERY_TIMEOUT_SECONDS", 15, int,
            "How long to wait for the SMTP server or the SMS API before counting a failed attempt "
            "and trying again later."),
    Setting("FAIRSLOT_REMINDER_HOURS", (24, 2), _hours,
            "When residents are reminded, in hours before the appointment, comma-separated. Empty: "
            "no reminders. A reminder whose time has already passed at booking is not written."),
    Setting("FAIRSLOT_MESSAGE_MAX_ATTEMPTS", 8, int,
            "Attempts at one message before it is marked failed (admins see it and can retry it). "
            "A refusal that cannot succeed (a 400 from the SMS API, an SMTP 5xx) fails at once."),
    Setting("FAIRSLOT_MESSAGE_RETRY_SECONDS", 30, int,
            "Wait before the first retry; it doubles after each failed attempt, up to an hour."),
    Setting("FAIRSLOT_MESSAGE_LEASE_SECONDS", 300, int,
            "How long one send may take; it is also the send job's timeout. A send claimed longer "
            "ago than this is presumed dead with its worker and is tried again, with the same "
            "idempotency key."),
    Setting("FAIRSLOT_RETENTION_DAYS", 90, int,
            "Residents' personal data (their reservations and the messages to them) is deleted "
            "this many days after the appointment by `flask --app wsgi purge` (daily: "
            "`fairslot-purge.timer`); expired holds a day after they ran out."),
    Setting("FAIRSLOT_HOUSEKEEPING_SECONDS", 60, _housekeeping_seconds,
            "How often the workers run the outbox relay (which also schedules the reminders due "
            "within 15 minutes), the expired-hold sweep and the waiting room's advance (once per "
            "period across all workers); 1 to 600."),
)
# fmt: on
