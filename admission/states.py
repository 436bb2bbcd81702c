"""A waiting-room ticket's states, as the Lua scripts write them and the views read them."""

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
