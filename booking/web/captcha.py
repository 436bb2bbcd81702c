"""hCaptcha, verified server-side against the siteverify API (no Flask in here).

Verification refuses a response that hCaptcha says is invalid, one solved on another hostname,
and one already used here (a replay), which we remember in Redis for the token's lifetime. When
siteverify cannot be reached, the configured policy decides (``open`` or ``closed``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)
REPLAY_TTL_SECONDS = 300  # hCaptcha responses expire after two minutes; keep a margin


@dataclass(frozen=True)
class CaptchaResult:
    """The outcome: ``ok`` to let the person join; ``reason`` says why not, or why anyway."""

    ok: bool
    reason: str


@dataclass(frozen=True)
class CaptchaConfig:
    """Keys, endpoint and policy."""

    site_key: str
    secret: str
    verify_url: str
    hostnames: frozenset[str]
    timeout_seconds: float
    unreachable_policy: str  # "open" | "closed"


def verify(
    config: CaptchaConfig, response: str | None, *, remote_ip: str | None, redis: Any
) -> CaptchaResult:
    """Check one hCaptcha response token."""
    if not response or len(response) > 10_000:
        return CaptchaResult(False, "missing-input-response")
    seen_key = "{fairslot:captcha}:" + hashlib.sha256(response.encode()).hexdigest()
    try:
        first_use = bool(redis.set(seen_key, 1, nx=True, ex=REPLAY_TTL_SECONDS))
    except RedisError:  # the replay memory is best effort when Redis is down
        first_use = True
    if not first_use:
        return CaptchaResult(False, "already-seen-response")
    form = {"secret": config.secret, "response": response, "sitekey": config.site_key}
    if remote_ip:
        form["remoteip"] = remote_ip
    request = urllib.request.Request(  # noqa: S310 - the URL is operator configuration
        config.verify_url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_seconds) as reply:  # noqa: S310
            body = json.loads(reply.read(65536) or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code < 500:
            return CaptchaResult(False, f"siteverify-http-{exc.code}")
        return _unreachable(config, f"siteverify-http-{exc.code}")
    except (OSError, ValueError) as exc:  # timeouts, refused connections, bad JSON
        return _unreachable(config, f"siteverify-unreachable: {type(exc).__name__}")
    if not isinstance(body, dict) or body.get("success") is not True:
        codes = body.get("error-codes") if isinstance(body, dict) else None
        return CaptchaResult(False, ",".join(codes or ["invalid-input-response"]))
    if config.hostnames and body.get("hostname") not in config.hostnames:
        return CaptchaResult(False, "wrong-hostname")
    return CaptchaResult(True, "verified")


def _unreachable(config: CaptchaConfig, reason: str) -> CaptchaResult:
    log.warning("hCaptcha unreachable (%s); policy is %s", reason, config.unreachable_policy)
    return CaptchaResult(config.unreachable_policy == "open", reason)
