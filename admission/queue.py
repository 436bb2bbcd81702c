"""The admission queue: who waits, who is in, and what each waiting person is told.

All shared state is in Redis and every change is one Lua script (see ``scripts``), so any
number of app processes agree. Admission advances whenever someone joins or polls (or a job
calls ``advance``); no background thread is needed for correctness.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from admission import restore, scripts
from admission.control import AdmissionControl
from admission.polling import PollPlan
from admission.scripts import (
    AdmitLimits,
    MinuteFigures,
    Placement,
    PollRefused,
    QueueKeys,
    TicketReply,
)
from admission.settings import QueueMode, QueueSettings
from admission.states import QueuePhase, TicketState

DEFAULT_PREFIX = "{fairslot:queue}"
TICKET_TTL_SECONDS = 6 * 3600


@dataclass(frozen=True)
class TicketStatus:
    """Everything a waiting (or admitted) person is told, computed on the server."""

    ticket: str
    state: TicketState
    phase: QueuePhase
    position: int | None  # 1-based place in line while waiting and the line is open
    ahead: int | None
    waiting: int
    active: int
    admitted_last_minute: int
    eta_seconds: int | None
    poll_after_seconds: int
    remaining: int | None  # appointments still free, None if not known yet
    sold_out: bool
    likely_too_late: bool  # more people ahead than appointments left
    paused: bool
    paused_message: str
    opens_at: datetime | None
    binding: str
    updated_at: datetime
    place: float | None = None  # set by join: what the client keeps to be restored its place


@dataclass(frozen=True)
class QueueStats:
    """The operators' view of the line."""

    mode: QueueMode
    phase: QueuePhase
    waiting: int
    active: int
    admitted_last_minute: int
    admitted_total: int
    eta_clear_seconds: int | None
    remaining: int | None
    sold_out: bool


@dataclass(frozen=True)
class PollLimit:
    """A client's poll allowance, counted inside the POLL script: (polls, seconds) windows."""

    client: str
    windows: tuple[tuple[int, int], ...]


class PollLimited(Exception):
    """The client polled more often than its allowance; it may poll again after ``retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"poll limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


class QueueClosed(Exception):
    """The waiting room is not open yet (before the pre-queue window)."""

    def __init__(self, opens_at: datetime, prequeue_from: datetime) -> None:
        super().__init__(f"the waiting room opens at {prequeue_from.isoformat()}")
        self.opens_at = opens_at
        self.prequeue_from = prequeue_from


class AdmissionQueue:
    """A fair, FIFO waiting room with a random pre-queue, backed by one Redis."""

    def __init__(
        self,
        redis: Any,
        defaults: QueueSettings,
        *,
        prefix: str = DEFAULT_PREFIX,
        rng: random.Random | None = None,
        settings_cache_seconds: float = 2.0,
        control: AdmissionControl | None = None,
        poll_budget: float = 200.0,
    ) -> None:
        self.redis = redis
        self.defaults = defaults
        self.prefix = prefix
        self.control = control  # sets the admission rate from the booking path's health
        self.poll_budget = poll_budget  # polls a second for the whole line (``polling``)
        self.rng = rng or random.SystemRandom()
        self._cache_seconds = settings_cache_seconds
        self._cached: tuple[float, QueueSettings] | None = None
        # When the inventory was last counted, as far as this process has seen (every script
        # answer carries it): lets callers skip asking Redis while the count is fresh.
        self.inventory_seen_at: float | None = None
        self.keys = QueueKeys.under(prefix)
        self._settings_key = f"{prefix}:settings"  # a hash of live overrides
        self._join = redis.register_script(scripts.JOIN)
        self._poll = redis.register_script(scripts.POLL)
        self._advance = redis.register_script(scripts.ADVANCE)
        self._touch = redis.register_script(scripts.TOUCH)
        self._revoke = redis.register_script(scripts.REVOKE)
        self._restore = redis.register_script(restore.RESTORE)

    # Settings -----------------------------------------------------------------------------

    def settings(self) -> QueueSettings:
        """Current settings: defaults overridden by admins' live edits (cached briefly)."""
        cached = self._cached
        if cached and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        raw = self.redis.hgetall(self._settings_key)
        current = self.defaults.with_overrides({k.decode(): v for k, v in raw.items()})
        self._cached = (time.monotonic(), current)
        return current

    def update_settings(self, **changes: Any) -> QueueSettings:
        """Validate and store live overrides; every process sees them within seconds."""
        updated = self.settings().with_overrides(changes)
        stored = {k: v for k, v in updated.to_redis().items() if k in changes}
        if stored:
            self.redis.hset(self._settings_key, mapping=stored)
        self._cached = None
        return updated

    def reset_settings(self) -> None:
        """Drop every live override, back to the environment's defaults."""
        self.redis.delete(self._settings_key)
        self._cached = None

    # Inventory ----------------------------------------------------------------------------

    def set_inventory(self, remaining: int, now: float) -> None:
        """Record how many appointments are still free (the booking side counts them)."""
        self.redis.hset(self.keys.inventory, mapping={"remaining": remaining, "at": now})
        self._seen_inventory_at(now)

    def inventory(self) -> tuple[int | None, float | None]:
        """Return (remaining appointments, when counted), or (None, None) if never counted."""
        remaining, at = self.redis.hmget(self.keys.inventory, "remaining", "at")
        if remaining is None:
            return None, None
        self._seen_inventory_at(float(at))
        return int(remaining), float(at)

    def _seen_inventory_at(self, at: float) -> None:
        if self.inventory_seen_at is None or at > self.inventory_seen_at:
            self.inventory_seen_at = at

    # The line -----------------------------------------------------------------------------

    def phase(self, settings: QueueSettings, now: float) -> QueuePhase:
        """closed (before the pre-queue window), prequeue, or open."""
        if settings.opens_at is None:
            return QueuePhase.OPEN
        opens = settings.opens_at.timestamp()
        if now >= opens:
            return QueuePhase.OPEN
        if now >= opens - settings.prequeue_minutes * 60:
            return QueuePhase.PREQUEUE
        return QueuePhase.CLOSED

    def _limits(self, settings: QueueSettings, now: float) -> AdmitLimits:
        # (The scripts themselves refuse to admit anyone once the inventory says sold out.)
        can_admit = (
            settings.mode in (QueueMode.AUTO, QueueMode.ALWAYS)
            and self.phase(settings, now) == QueuePhase.OPEN
        )
        return AdmitLimits(
            idle_seconds=settings.idle_minutes * 60,
            max_active=settings.max_active,
            admit_per_minute=self.admit_rate(settings, now),
            can_admit=1 if can_admit else 0,
        )

    def admit_rate(self, settings: QueueSettings, now: float) -> int:
        """Admissions per minute in force: the controller's, an admin's pin, or the setting."""
        if self.control is None:
            return settings.admit_per_minute
        return self.control.rate(settings.admit_per_minute, now=now)

    def join(self, *, binding: str, now: float) -> TicketStatus:
        """Take a ticket; early arrivals (pre-queue) get a random place among themselves."""
        settings = self.settings()
        phase = self.phase(settings, now)
        if phase == QueuePhase.CLOSED:
            assert settings.opens_at is not None
            raise QueueClosed(
                settings.opens_at,
                settings.opens_at - timedelta(minutes=settings.prequeue_minutes),
            )
        ticket = secrets.token_urlsafe(16)
        args = scripts.join_args(
            self.prefix,
            ticket,
            now=now,
            placement=Placement.PREQUEUE if phase == QueuePhase.PREQUEUE else Placement.FIFO,
            place=self.rng.random(),
            ttl=TICKET_TTL_SECONDS,
            binding=binding,
            limits=self._limits(settings, now),
        )
        reply = scripts.decode_join(self._join(keys=self.keys, args=args))
        return self._status(ticket, reply, settings, now)

    def poll(
        self, ticket: str, *, now: float, binding: str = "", limit: PollLimit | None = None
    ) -> TicketStatus:
        """Where a ticket stands now; polling keeps a waiting ticket alive.

        With ``binding``, a ticket issued to another binding is reported ``unknown`` and left
        untouched: one round trip checks whose ticket it is and answers. With ``limit``, the
        same round trip counts the client's poll and raises ``PollLimited`` past its allowance.
        """
        settings = self.settings()
        args = scripts.poll_args(
            self.prefix,
            ticket,
            now=now,
            ttl=TICKET_TTL_SECONDS,
            limits=self._limits(settings, now),
            binding=binding,
            client=limit.client if limit is not None else "",
            windows=limit.windows if limit is not None else (),
        )
        reply = scripts.decode_poll(self._poll(keys=self.keys, args=args))
        if isinstance(reply, PollRefused):
            raise PollLimited(reply.retry_after)
        return self._status(ticket, reply, settings, now)

    def advance(self, *, now: float) -> int:
        """Admit whoever the limits allow now (for a scheduled job); return how many."""
        limits = self._limits(self.settings(), now)
        args = scripts.advance_args(self.prefix, now=now, ttl=TICKET_TTL_SECONDS, limits=limits)
        return scripts.decode_advance(self._advance(keys=self.keys, args=args))

    def touch(self, ticket: str, *, now: float) -> TicketState:
        """Count an admitted user as active again; return the ticket's state."""
        args = scripts.touch_args(self.prefix, ticket, now=now, ttl=TICKET_TTL_SECONDS)
        return scripts.decode_touch(self._touch(keys=self.keys, args=args))

    def leave(self, ticket: str) -> bool:
        """Free an admitted user's active place now (they booked); True if they held one.

        The ticket stays admitted, so its token keeps working; using it again counts the user
        as active again. Without this, a booked user would hold a place until the idle timeout
        and admission would run at ``max_active`` per idle period, not at the configured rate.
        """
        return bool(self.redis.zrem(self.keys.active, ticket))

    def revoke(self, ticket: str) -> bool:
        """Revoke a ticket: its admission token stops working at once."""
        args = scripts.revoke_args(self.prefix, ticket)
        return scripts.decode_revoke(self._revoke(keys=self.keys, args=args))

    def restore(
        self, ticket: str, *, binding: str, issued_at: float, now: float, place: float | None
    ) -> bool:
        """Put back a ticket Redis lost, from what the app signed for its holder; True if done.

        With ``place``, it waits there again; without, it is admitted again (its holder showed
        a valid admission token). Only a ticket issued within its lifetime and of which Redis
        has no trace at all: one that expired, was revoked or is another's stays as it is.
        """
        if now - issued_at >= TICKET_TTL_SECONDS or "." in ticket or not ticket:
            return False
        args = restore.restore_args(
            self.prefix, ticket, now=now, ttl=TICKET_TTL_SECONDS, binding=binding, place=place
        )
        return bool(self._restore(keys=self.keys, args=args))

    # Reporting ----------------------------------------------------------------------------

    def stats(self, *, now: float) -> QueueStats:
        """The operators' figures, from O(1) Redis calls."""
        settings = self.settings()
        keys = self.keys
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.waiting, keys.seen, keys.active, keys.admit_log):
            pipe.zcard(key)
        pipe.zcount(keys.admit_log, now - 60, "+inf")
        pipe.get(keys.admitted_total)
        waiting, _seen, active, _log, last_minute, total = pipe.execute()
        remaining, _ = self.inventory()
        rate = self._rate_per_second(settings, int(last_minute), now)
        if remaining == 0:
            rate = None  # sold out: nobody is let in, so the line never clears
        eta = math.ceil(int(waiting) / rate) if rate and waiting else (0 if not waiting else None)
        return QueueStats(
            mode=settings.mode,
            phase=self.phase(settings, now),
            waiting=int(waiting),
            active=int(active),
            admitted_last_minute=int(last_minute),
            admitted_total=int(total or 0),
            eta_clear_seconds=eta,
            remaining=remaining,
            sold_out=remaining == 0,
        )

    def history(self, *, now: float) -> list[MinuteFigures]:
        """The last hour minute by minute, oldest first: people waiting and admissions."""
        return scripts.decode_history(self.redis.hgetall(self.keys.history), now=now)

    def _rate_per_second(
        self, settings: QueueSettings, last_minute: int, now: float
    ) -> float | None:
        if settings.mode in (QueueMode.PAUSED, QueueMode.OFF):
            return None
        # The observed admission rate; before any is observed, the rate in force.
        per_minute = last_minute if last_minute > 0 else self.admit_rate(settings, now)
        return per_minute / 60.0

    def _status(
        self, ticket: str, reply: TicketReply, settings: QueueSettings, now: float
    ) -> TicketStatus:
        state, remaining = reply.state, reply.remaining
        if reply.counted_at is not None:
            self._seen_inventory_at(reply.counted_at)
        phase = self.phase(settings, now)
        in_line = state == TicketState.WAITING
        visible = in_line and reply.rank >= 0 and phase == QueuePhase.OPEN
        ahead = reply.rank if visible else None
        rate = self._rate_per_second(settings, reply.admitted_last_minute, now)
        eta: int | None = None
        if in_line and phase == QueuePhase.OPEN and rate and ahead is not None and remaining != 0:
            # (Sold out, nobody is let in: there is no honest estimate to give.)
            eta = math.ceil((ahead + 1) / rate)
        elif in_line and phase == QueuePhase.PREQUEUE and settings.opens_at is not None:
            eta = math.ceil(settings.opens_at.timestamp() - now)
        return TicketStatus(
            ticket=ticket,
            state=state,
            phase=phase,
            position=ahead + 1 if ahead is not None else None,
            ahead=ahead,
            waiting=reply.waiting,
            active=reply.active,
            admitted_last_minute=reply.admitted_last_minute,
            eta_seconds=eta,
            poll_after_seconds=self._poll_after(state, ahead, phase, reply.waiting, settings),
            remaining=remaining,
            sold_out=remaining == 0,
            likely_too_late=remaining is not None and ahead is not None and ahead >= remaining,
            paused=settings.mode == QueueMode.PAUSED,
            paused_message=settings.paused_message,
            opens_at=settings.opens_at,
            binding=reply.binding,
            updated_at=datetime.fromtimestamp(now, UTC),
            place=reply.place,
        )

    def _poll_after(
        self,
        state: TicketState,
        ahead: int | None,
        phase: QueuePhase,
        waiting: int,
        settings: QueueSettings,
    ) -> int:
        """Near the front, poll often; far back, rarely, so the line keeps to the poll budget.

        With up to 20% jitter (only ever longer), so polls do not align.
        """
        if state != TicketState.WAITING:
            return 0
        plan = PollPlan(self.poll_budget, settings.idle_minutes * 60)
        if phase != QueuePhase.OPEN or ahead is None:
            base = plan.prequeue_interval(waiting)
        else:
            base = plan.interval(ahead + 1, waiting)
        return math.ceil(base * (1 + 0.2 * self.rng.random()))
