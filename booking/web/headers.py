"""The security headers every response carries, set in one place after each request.

The Content-Security-Policy allows scripts, styles, fonts and fetches from the site itself only
(the pages have no inline script or style), plus hCaptcha's hosts when hCaptcha is on; nothing
may frame the site. A URL that carries a secret (a manage token, a hold id, a ticket, a
confirmation code) is never sent on as a Referer. Production adds Strict-Transport-Security.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request

# Where hCaptcha's widget loads its script, frame, styles and checks from (its documented hosts).
HCAPTCHA_SOURCES = "https://hcaptcha.com https://*.hcaptcha.com"
# Browser features the site never uses.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)
HSTS = "max-age=31536000"


def content_security_policy(captcha: bool) -> str:
    """The policy, with hCaptcha's hosts when the join form shows its widget."""
    extra = f" {HCAPTCHA_SOURCES}" if captcha else ""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self'{extra}",
        "style-src": f"'self'{extra}",
        "img-src": "'self' data:",  # the demo outbox shows each message's QR code inline
        "connect-src": f"'self'{extra}",
        "frame-src": HCAPTCHA_SOURCES if captcha else "'none'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _carries_secret() -> bool:
    """Whether this URL holds a value a stranger must not learn: any text segment of the route
    (``/manage/<token>``, ``/book/<hold_id>``, ``/api/v1/reservations/<code>``...)."""
    return any(isinstance(value, str) for value in (request.view_args or {}).values())


def security_headers(config: Any, *, carries_secret: bool) -> list[tuple[str, str]]:
    """The headers every response carries, in the order they are added."""
    captcha = bool(config.get("HCAPTCHA_SITE_KEY") and config.get("HCAPTCHA_SECRET"))
    referrer = "no-referrer" if carries_secret else "strict-origin-when-cross-origin"
    headers = [
        ("Content-Security-Policy", content_security_policy(captcha)),
        ("X-Frame-Options", "DENY"),  # frame-ancestors for older browsers
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", referrer),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if config["FAIRSLOT_ENV"] == "production":
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def init_app(app: Flask) -> None:
    """Add the headers to every response (a view's own value of one is kept)."""

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        for name, value in security_headers(current_app.config, carries_secret=_carries_secret()):
            headers.setdefault(name, value)
        return response
