"""When each waiting person should poll again, so the whole line's polls stay under a budget.

Position ``p`` (1 is next) polls every ``p / c`` seconds, kept between ``MIN_SECONDS`` and
``max_seconds`` (a share of the idle timeout, so polling at the longest interval still keeps
the ticket alive). With ``c`` people per second "tracked", a person's interval is never longer
than the time the line takes to reach them while it moves at up to ``c`` a second, so nobody
learns of their turn more than one interval late, and the front polls often.

The line's total poll rate, with ``N`` waiting, ``m = MIN_SECONDS``, ``M = max_seconds`` and
``L = ln(M / m)``, is the sum over positions of one over the interval: ``c`` for the first
``c·m`` positions, ``c·ln(p₂/p₁)`` over the positions between, and ``1/M`` for each beyond
``c·M``. At most ``c·(1 + L)`` while ``N <= c·M``; ``c·L + N/M`` beyond. So

    c = min(B / (1 + L), (B - N/M) / L)

keeps the total at or under the budget ``B`` for any line up to ``M·(B - L/m)`` people, about
``B·M`` (the line's length is in every poll's answer). Past that, every ticket polling once per
``M`` seconds is itself about the budget: ``c`` stops at ``1/m`` (the first in line still polls
every ``m`` seconds) and the rate is at most ``N/M + (1 + L)/m``, the least that keeps every
ticket alive plus the front's share.
``total_rate`` computes the exact sum for the tests and the documentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SECONDS = 5
PREQUEUE_SECONDS = 30  # before opening, nobody's place is final: no need to poll often
IDLE_SHARE = 0.7  # the longest interval, as a share of the idle timeout (jitter adds up to 20%)


@dataclass(frozen=True)
class PollPlan:
    """The poll budget (polls a second for the whole line) and the idle timeout it must fit."""

    budget_per_second: float
    idle_seconds: int

    @property
    def max_seconds(self) -> float:
        """The longest interval: well inside the idle timeout, never under the shortest."""
        return max(float(MIN_SECONDS), self.idle_seconds * IDLE_SHARE)

    def tracked(self, waiting: int) -> float:
        """``c``: positions per second of interval, for a line of ``waiting`` people."""
        longest = self.max_seconds
        spread = math.log(longest / MIN_SECONDS)
        if spread <= 0:
            return 1.0 / MIN_SECONDS
        budget = self.budget_per_second
        c = min(budget / (1 + spread), (budget - waiting / longest) / spread)
        return max(c, 1.0 / MIN_SECONDS)

    def interval(self, position: int, waiting: int) -> float:
        """Seconds until position ``position`` (1-based) of a line of ``waiting`` polls again."""
        seconds = position / self.tracked(waiting)
        return min(self.max_seconds, max(float(MIN_SECONDS), seconds))

    def prequeue_interval(self, waiting: int) -> float:
        """Before opening everyone polls alike: at most the budget, at least every 30 s."""
        seconds = max(float(PREQUEUE_SECONDS), waiting / self.budget_per_second)
        return min(self.max_seconds, seconds)


def total_rate(plan: PollPlan, waiting: int) -> float:
    """The whole line's polls per second if everyone polls when told (no jitter)."""
    return sum(1.0 / plan.interval(p, waiting) for p in range(1, waiting + 1))
