"""Configuration read from FAIRSLOT_* environment variables.

``booking.settings.SETTINGS`` is the one table of them (a row each: default, parser, sentence);
this module reads them, checks what depends on several (the public URL, the hosts), and writes
the README's configuration table from the rows (``make config-docs``; a test fails when the two
differ).
``FLASK_DEFAULTS`` holds the Flask settings FairSlot fixes without reading the environment.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from booking.settings import ENVIRONMENTS, SETTINGS, Setting

__all__ = ["ENVIRONMENTS", "SETTINGS", "ConfigError", "Setting", "load_config"]

# Flask's and Flask-WTF's own settings, fixed here rather than read from the environment. Flask's
# defaults hold some of these keys as None, so None (or absence) takes the value below.
FLASK_DEFAULTS: Mapping[str, Any] = {
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session, not a clock
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


README_BEGIN = "<!-- config:begin -->"
README_END = "<!-- config:end -->"


def readme_table() -> str:
    """The README's configuration table in Markdown, one line per row of SETTINGS."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.env}` | {s.shown_default} | {s.doc} |" for s in SETTINGS]
    return "\n".join(lines)


def with_readme_table(readme: str) -> str:
    """``readme`` with the text between the config markers replaced by ``readme_table()``."""
    head, found, rest = readme.partition(README_BEGIN)
    _, found_end, tail = rest.partition(README_END)
    if not (found and found_end):
        raise ValueError(f"the README needs {README_BEGIN} and {README_END} around the table")
    return f"{head}{README_BEGIN}\n{readme_table()}\n{README_END}{tail}"


def write_readme_table(path: str | Path) -> None:
    """Regenerate the configuration table in the README at ``path`` (``make config-docs``)."""
    readme = Path(path)
    readme.write_text(with_readme_table(readme.read_text()))


def _demo_secret(instance: Path) -> str:
    """Return a per-installation random key for demo/dev use, kept in instance/."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "demo-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def is_private_host(host: str) -> bool:
    """Whether a host name is loopback, private, link-local or unspecified (not for the public)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(
        (address.is_loopback, address.is_private, address.is_link_local, address.is_unspecified)
    )


def _check_public_url(url: str, env: str, private_network: bool) -> str:
    """The host of FAIRSLOT_PUBLIC_URL; production refuses one residents could not reach."""
    try:
        parts = urlsplit(url)
        host = parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host:
        raise ConfigError(
            f"FAIRSLOT_PUBLIC_URL={url!r} is not valid: give the absolute address residents use, "
            "such as https://book.example.org"
        )
    public = parts.scheme == "https" and not is_private_host(host)
    if env == "production" and not private_network and not public:
        raise ConfigError(
            f"FAIRSLOT_PUBLIC_URL={url!r} is not a public https address, and every link in "
            "every message is built from it. Set it to the address residents use (such as "
            "https://book.example.org), or set FAIRSLOT_PRIVATE_NETWORK=true to run on a "
            "private network."
        )
    return host


def trusted_hosts(public_host: str, config: Mapping[str, Any]) -> list[str]:
    """The Host names served: FAIRSLOT_PUBLIC_URL's, the configured ones, SERVER_NAME's (if
    set) and, when the public URL is this machine, its other loopback names."""
    hosts = [public_host, *(config.get("TRUSTED_HOSTS") or ())]
    if config.get("SERVER_NAME"):
        hosts.append(str(config["SERVER_NAME"]).rsplit(":", 1)[0])
    if public_host in ("localhost", "127.0.0.1"):
        hosts += ["localhost", "127.0.0.1"]
    return list(dict.fromkeys(hosts))


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
    for key, value in FLASK_DEFAULTS.items():
        if config.get(key) is None:
            config[key] = value
    config["SESSION_COOKIE_HTTPONLY"] = True  # not a default: no override turns it off

    env = config["FAIRSLOT_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"FAIRSLOT_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    instance = Path(config["INSTANCE_PATH"] or Path.cwd() / "instance")
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
    if config.get("LOG_FORMAT") is None:
        config["LOG_FORMAT"] = "json" if env == "production" else "text"
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = env == "production"
    if config.get("DEMO_OUTBOX") is None:
        config["DEMO_OUTBOX"] = env in {"demo", "development"}
    elif config["DEMO_OUTBOX"] and env == "production":
        raise ConfigError(
            "FAIRSLOT_DEMO_OUTBOX is on, and its page shows anyone every message sent (names, "
            "phone numbers, personal links). Production will not start with it: unset it."
        )
    public_host = _check_public_url(config["PUBLIC_URL"], env, bool(config["PRIVATE_NETWORK"]))
    # Flask's own TRUSTED_HOSTS, which FAIRSLOT_TRUSTED_HOSTS only adds to.
    config["TRUSTED_HOSTS"] = trusted_hosts(public_host, config)
    if not config.get("SECURITY_CONTACT"):
        config["SECURITY_CONTACT"] = f"mailto:security@{public_host}"
    config["TESTING"] = env == "test" or bool(config.get("TESTING"))
    return config
