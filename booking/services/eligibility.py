"""Who may book what: the short check residents answer before they join the line.

State admins manage the rules (phases of the rollout: age thresholds, an attested condition,
residency, a start date). A service with no rule in the database falls back to the defaults
below. The check runs before joining the waiting room so nobody reaches the front of the line
to be turned away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import EligibilityRule
from booking.services.errors import InvalidInput
from booking.services.inventory import SERVICES
from booking.services.text import N_
from booking.services.validation import parse_birth_date


@dataclass(frozen=True)
class Rule:
    """One way to be eligible for a service."""

    service: str
    min_age_years: int
    state_residents_only: bool = True
    max_age_years: int | None = None
    requires_condition: bool = False
    phase: str = "Everyone"


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
    has_condition: bool = False


def age_on(born: date, day: date) -> int:
    """Age in whole years on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def load_rules(session: Session, *, today: date) -> dict[str, list[Rule]]:
    """The rules in force today, by service; services without rules keep the defaults."""
    rows = session.scalars(select(EligibilityRule).where(EligibilityRule.active.is_(True))).all()
    configured = {row.service for row in rows}
    rules: dict[str, list[Rule]] = {
        service: [rule] for service, rule in DEFAULT_RULES.items() if service not in configured
    }
    for row in rows:
        if row.effective_from <= today:
            rules.setdefault(row.service, []).append(
                Rule(
                    row.service,
                    row.min_age_years,
                    row.state_residents_only,
                    row.max_age_years,
                    row.requires_condition,
                    row.phase,
                )
            )
        else:
            rules.setdefault(row.service, [])  # configured but not open yet: nobody, for now
    return rules


def _failures(rule: Rule, answers: Answers, age: int) -> dict[str, str]:
    failures: dict[str, str] = {}
    if rule.state_residents_only and not answers.lives_or_works_in_state:
        failures["resident"] = N_(
            "Appointments here are for people who live, work or study in Massachusetts."
        )
    if age < rule.min_age_years or (rule.max_age_years is not None and age > rule.max_age_years):
        if rule.max_age_years is None:
            failures["date_of_birth"] = N_(
                "This vaccine is offered here from age %(low)d. Your doctor or pharmacist can "
                "advise you.",
                low=rule.min_age_years,
            )
        else:
            failures["date_of_birth"] = N_(
                "This vaccine is offered here for ages %(low)d to %(high)d. Your doctor or "
                "pharmacist can advise you.",
                low=rule.min_age_years,
                high=rule.max_age_years,
            )
    if rule.requires_condition and not answers.has_condition:
        failures["has_condition"] = N_(
            "Right now this vaccine is for people with a condition that puts them at higher risk."
        )
    return failures


def check(
    answers: Answers,
    *,
    today: date,
    rules: Mapping[str, Rule | Sequence[Rule]] | None = None,
) -> None:
    """Raise InvalidInput, saying why, unless some rule in force makes the person eligible."""
    available = rules if rules is not None else DEFAULT_RULES
    found = available.get(answers.service)
    if found is None:
        raise InvalidInput(N_("Unknown vaccine."), errors={"service": N_("Choose a vaccine.")})
    candidates = [found] if isinstance(found, Rule) else list(found)
    if not candidates:
        raise InvalidInput(
            N_("Booking for this vaccine has not opened yet."),
            errors={"service": N_("Booking for this vaccine has not opened yet.")},
        )
    age = age_on(answers.date_of_birth, today)
    attempts = [_failures(rule, answers, age) for rule in candidates]
    if any(not failures for failures in attempts):
        return
    # Explain the nearest miss; between equals, one the person could still act on (a condition
    # to attest) is more useful than their age.
    closest = min(attempts, key=lambda failures: (len(failures), "date_of_birth" in failures))
    raise InvalidInput(N_("You are not eligible to book this vaccine yet."), errors=closest)


def parse_answers(session: Session, values: Mapping[str, Any], *, today: date) -> Answers:
    """Validate the eligibility questions, naming every problem at once, then check the rules."""
    errors: dict[str, str] = {}
    service = values.get("service")
    if service not in SERVICES:
        errors["service"] = N_("Choose a vaccine.")
    born = None
    try:
        born = parse_birth_date(values.get("date_of_birth"), today=today)
    except InvalidInput as exc:
        errors.update(exc.errors)
    resident = values.get("resident")
    if resident not in ("yes", "no", True, False):
        errors["resident"] = N_("Choose yes or no.")
    if errors:
        raise InvalidInput(N_("Please answer the questions."), errors=errors)
    assert born is not None and isinstance(service, str)
    condition = values.get("has_condition") in ("yes", "1", "on", True)
    answers = Answers(service, born, resident in ("yes", True), condition)
    check(answers, today=today, rules=load_rules(session, today=today))
    return answers
