"""Ticket states, as the Lua scripts write them, and the line's phases, as the API reports them."""

from __future__ import annotations

import enum


class TicketState(enum.StrEnum):
    """Where a ticket stands: in line, let in, or no longer usable."""

    WAITING = "waiting"
    ADMITTED = "admitted"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


# A ticket that still counts: its holder is in line or has been let in.
LIVE_STATES = frozenset({TicketState.WAITING, TicketState.ADMITTED})


class QueuePhase(enum.StrEnum):
    """Where the line stands against its opening time (``QueueSettings.opens_at``)."""

    CLOSED = "closed"  # before the pre-queue window: nobody may join
    PREQUEUE = "prequeue"  # early arrivals join and get a random place among themselves
    OPEN = "open"  # first come, first served, and admission runs
