"""The waiting room's settings: defaults from the environment, live overrides in Redis."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any


class QueueMode(enum.StrEnum):
    """How the waiting room admits people."""

    OFF = "off"  # no waiting room: holds and confirms need no admission token
    AUTO = "auto"  # a visitor is let straight in while there is room, else waits in line
    ALWAYS = "always"  # everyone goes through the line
    PAUSED = "paused"  # the line keeps its order but nobody is let in


class SettingsError(ValueError):
    """A setting has a value the waiting room cannot use."""


@dataclass(frozen=True)
class QueueSettings:
    """How the waiting room admits people; every field can be changed live by admins."""

    mode: QueueMode = QueueMode.OFF
    max_active: int = 500
    admit_per_minute: int = 300
    opens_at: datetime | None = None
    prequeue_minutes: int = 30
    session_minutes: int = 20
    idle_minutes: int = 5
    paused_message: str = ""

    def __post_init__(self) -> None:
        # Callers may pass the mode's text (from the environment, a form or Redis).
        object.__setattr__(self, "mode", _mode(self.mode))
        for name in ("max_active", "admit_per_minute", "session_minutes", "idle_minutes"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if self.prequeue_minutes < 0:
            raise SettingsError("prequeue_minutes must not be negative")
        if self.opens_at is not None and self.opens_at.tzinfo is None:
            raise SettingsError("opens_at needs a UTC offset")

    @property
    def enabled(self) -> bool:
        """Whether holds and confirms need an admission token."""
        return self.mode != QueueMode.OFF

    def to_redis(self) -> dict[str, str]:
        """Flatten for a Redis hash."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            out[key] = (
                ""
                if value is None
                else (value.isoformat() if isinstance(value, datetime) else str(value))
            )
        return out

    def with_overrides(self, raw: dict[str, Any]) -> QueueSettings:
        """Apply overrides (strings from Redis or a form); unknown keys are ignored."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if isinstance(value, bytes):
                value = value.decode()
            changes[f.name] = _coerce(f.name, value)
        return replace(self, **changes)


def _coerce(name: str, value: Any) -> Any:
    if name == "mode":
        return _mode(value)
    if name == "paused_message":
        return str(value)
    if name == "opens_at":
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            raise SettingsError("opens_at must be an ISO 8601 date and time") from None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a whole number") from None


def _mode(value: Any) -> QueueMode:
    try:
        return QueueMode(str(value))
    except ValueError:
        raise SettingsError(f"mode must be one of {', '.join(QueueMode)}") from None
