"""Who may book what: the short check residents answer before they join the line.

The rules here are the defaults; state admins manage the live rules in their console. The check
runs before joining the waiting room so nobody reaches the front of the line to be turned away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from booking.services.errors import InvalidInput


@dataclass(frozen=True)
class Rule:
    """Who may book one service."""

    service: str
    min_age_years: int
    state_residents_only: bool = True


DEFAULT_RULES: dict[str, Rule] = {
    "covid19": Rule("covid19", 5),
    "flu": Rule("flu", 1),
    "rsv": Rule("rsv", 60),
}


@dataclass(frozen=True)
class Answers:
    """What the resident told us."""

    service: str
    date_of_birth: date
    lives_or_works_in_state: bool


def age_on(born: date, day: date) -> int:
    """Age in whole years on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check(answers: Answers, *, today: date, rules: dict[str, Rule] | None = None) -> None:
    """Raise InvalidInput, saying why, if the answers do not make the person eligible."""
    rules = rules or DEFAULT_RULES
    rule = rules.get(answers.service)
    if rule is None:
        raise InvalidInput("Unknown vaccine.", errors={"service": "Choose a vaccine."})
    errors: dict[str, str] = {}
    if rule.state_residents_only and not answers.lives_or_works_in_state:
        errors["lives_or_works_in_state"] = (
            "Appointments here are for people who live, work or study in Massachusetts."
        )
    if age_on(answers.date_of_birth, today) < rule.min_age_years:
        errors["date_of_birth"] = (
            f"This vaccine is offered here from age {rule.min_age_years}. "
            "Your doctor or pharmacist can advise you."
        )
    if errors:
        raise InvalidInput("You are not eligible to book this vaccine yet.", errors=errors)
