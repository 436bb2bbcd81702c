"""Who may book what: the rules, checked where a booking is made and before joining the line.

State admins manage the rules (phases of the rollout: age thresholds, an attested condition,
residency, a start date). A service with no rule in the database falls back to the defaults
below. ``check_booking`` is what decides: ``reservations.confirm_hold`` and
``reschedule_reservation`` call it for every channel (age on the appointment's local date,
against the rules in force today and the slot's vaccine product), and ``holds.place_hold`` runs
its age part when the date of birth is known. ``parse_answers`` is the waiting room's
pre-check, so nobody reaches the front of the line to be turned away; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Clinic, EligibilityRule, Slot, VaccineProduct
from booking.services.errors import InvalidInput, NotEligible
from booking.services.inventory import SERVICES
from booking.services.people import Person
from booking.services.text import N_
from booking.services.validation import parse_birth_date, parse_person


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
    """Raise NotEligible, saying why, unless some rule in force makes the person eligible."""
    available = rules if rules is not None else DEFAULT_RULES
    found = available.get(answers.service)
    if found is None:
        raise InvalidInput(N_("Unknown vaccine."), errors={"service": N_("Choose a vaccine.")})
    candidates = [found] if isinstance(found, Rule) else list(found)
    if not candidates:
        raise NotEligible(
            N_("Booking for this vaccine has not opened yet."),
            rule="phase",
            errors={"service": N_("Booking for this vaccine has not opened yet.")},
        )
    age = age_on(answers.date_of_birth, today)
    attempts = [_failures(rule, answers, age) for rule in candidates]
    if any(not failures for failures in attempts):
        return
    # Explain the nearest miss; between equals, one the person could still act on (a condition
    # to attest) is more useful than their age.
    closest = min(attempts, key=lambda failures: (len(failures), "date_of_birth" in failures))
    # The rule named is the nearest miss's first: what an API client can tell apart.
    rule = next(_RULE_OF[field] for field in (*closest, "date_of_birth") if field in _RULE_OF)
    raise NotEligible(
        N_("You are not eligible to book this vaccine yet."), rule=rule, errors=closest
    )


_RULE_OF = {"date_of_birth": "age", "resident": "residency", "has_condition": "condition"}


_YES = ("yes", "true", "1", "on")
_NO = ("no", "false", "0", "off")


def _yes_or_no(value: object, *, blank_is_no: bool) -> bool | None:
    """A form's "yes"/"no" (or a checkbox's "on") or a JSON boolean; None when it is neither.

    Only strings and booleans count: 1 == True in Python, so a bare membership test would take
    a number, and an object or a list must be an error, never an answer.
    """
    if isinstance(value, bool):
        return value
    if blank_is_no and value in (None, ""):
        return False
    if isinstance(value, str):
        if value in _YES:
            return True
        if value in _NO:
            return False
    return None


def parse_answers(session: Session, values: Mapping[str, Any], *, today: date) -> Answers:
    """Validate the eligibility questions, naming every problem at once, then check the rules."""
    errors: dict[str, str] = {}
    service = values.get("service")
    # A JSON body may send any type: a list or an object is no vaccine (and is not hashable).
    if not isinstance(service, str) or service not in SERVICES:
        errors["service"] = N_("Choose a vaccine.")
    born = None
    try:
        born = parse_birth_date(values.get("date_of_birth"), today=today)
    except InvalidInput as exc:
        errors.update(exc.errors)
    resident = _yes_or_no(values.get("resident"), blank_is_no=False)
    if resident is None:
        errors["resident"] = N_("Choose yes or no.")
    condition = _yes_or_no(values.get("has_condition"), blank_is_no=True)
    if condition is None:
        errors["has_condition"] = N_("Choose yes or no.")
    if errors:
        raise InvalidInput(N_("Please answer the questions."), errors=errors)
    assert born is not None and isinstance(service, str)
    answers = Answers(service, born, bool(resident), bool(condition))
    check(answers, today=today, rules=load_rules(session, today=today))
    return answers


# Booking time ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilityAnswers:
    """What the person answers when booking (the date of birth comes with their details)."""

    lives_or_works_in_state: bool
    has_condition: bool = False


@dataclass(frozen=True)
class Appointment:
    """What the rules need to know of a slot: its service, local date and product's ages."""

    service: str
    day: date
    today: date
    product_name: str
    min_age_years: int
    max_age_years: int | None


def parse_booking_answers(values: Mapping[str, Any]) -> EligibilityAnswers:
    """Read the booking's residency (required, yes or no) and condition (yes if ticked) answers."""
    resident = _yes_or_no(values.get("resident"), blank_is_no=False)
    condition = _yes_or_no(values.get("has_condition"), blank_is_no=True)
    errors: dict[str, str] = {}
    if resident is None:
        errors["resident"] = N_("Choose yes or no.")
    if condition is None:
        errors["has_condition"] = N_("Choose yes or no.")
    if errors:
        raise InvalidInput(N_("Please answer the questions."), errors=errors)
    return EligibilityAnswers(bool(resident), bool(condition))


def parse_booking_details(
    values: Mapping[str, Any], *, today: date, require_attestation: bool
) -> tuple[Person, EligibilityAnswers]:
    """The person's details and their eligibility answers, naming every problem at once."""
    errors: dict[str, str] = {}
    person = answers = None
    try:
        person = parse_person(values, today=today, require_attestation=require_attestation)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        answers = parse_booking_answers(values)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors or person is None or answers is None:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    return person, answers


def appointment_of(session: Session, slot_id: int, *, now: datetime) -> Appointment:
    """The slot's service, its date and today's date at the clinic, and its product's ages."""
    row = session.execute(
        select(Slot.service, Slot.starts_at, Clinic.timezone, VaccineProduct)
        .join(Clinic, Clinic.id == Slot.clinic_id)
        .join(VaccineProduct, VaccineProduct.id == Slot.product_id)
        .where(Slot.id == slot_id)
    ).one()
    return appointment_at(row.service, row.starts_at, row.timezone, row.VaccineProduct, now=now)


def appointment_at(
    service: str, starts_at: datetime, timezone: str, product: VaccineProduct, *, now: datetime
) -> Appointment:
    """The appointment a slot of ``service`` and ``product`` starting at ``starts_at`` makes."""
    zone = ZoneInfo(timezone)
    return Appointment(
        service,
        starts_at.astimezone(zone).date(),
        now.astimezone(zone).date(),
        product.name,
        product.min_age_years,
        product.max_age_years,
    )


_RULE_OF_FIELD = {"date_of_birth": "age", "resident": "residency", "has_condition": "condition"}


def check_booking(
    session: Session,
    appointment: Appointment,
    date_of_birth: date,
    answers: EligibilityAnswers | None,
) -> None:
    """Raise NotEligible unless a rule in force today admits the person on the appointment date.

    The age counted is the age on the appointment's own date. Without ``answers`` (a hold,
    before the questions are asked) only the age parts are checked.
    """
    age = age_on(date_of_birth, appointment.day)
    low, high = appointment.min_age_years, appointment.max_age_years
    if age < low or (high is not None and age > high):
        raise NotEligible(
            N_("You are not eligible for this vaccine."),
            rule="product_age",
            errors={"date_of_birth": _product_ages(appointment)},
        )
    candidates = load_rules(session, today=appointment.today).get(appointment.service, [])
    if not candidates:
        raise NotEligible(
            N_("Booking for this vaccine has not opened yet."),
            rule="phase",
            errors={"service": N_("Booking for this vaccine has not opened yet.")},
        )
    # Unasked questions count as answered favourably: the age is all that can be checked yet.
    given = answers or EligibilityAnswers(lives_or_works_in_state=True, has_condition=True)
    attempt = Answers(
        appointment.service, date_of_birth, given.lives_or_works_in_state, given.has_condition
    )
    attempts = [_failures(rule, attempt, age) for rule in candidates]
    if any(not failures for failures in attempts):
        return
    closest = min(attempts, key=lambda failures: (len(failures), "date_of_birth" in failures))
    rule = next(_RULE_OF_FIELD[field] for field in _RULE_OF_FIELD if field in closest)
    raise NotEligible(
        N_("You are not eligible to book this vaccine yet."), rule=rule, errors=closest
    )


def _product_ages(appointment: Appointment) -> str:
    if appointment.max_age_years is None:
        return N_(
            "%(product)s is given from age %(low)d. Choose another vaccine or ask your doctor "
            "or pharmacist.",
            product=appointment.product_name,
            low=appointment.min_age_years,
        )
    return N_(
        "%(product)s is given from age %(low)d to %(high)d. Choose another vaccine or ask your "
        "doctor or pharmacist.",
        product=appointment.product_name,
        low=appointment.min_age_years,
        high=appointment.max_age_years,
    )


def priority_group(session: Session, answers: Answers, *, today: date) -> tuple[int, str]:
    """The first phase, in the order the phases opened, whose rule admits the person today:
    its rank (0 is first) and its name. Raises InvalidInput as ``check`` does if none does."""
    rows = session.scalars(
        select(EligibilityRule)
        .where(EligibilityRule.active.is_(True), EligibilityRule.service == answers.service)
        .order_by(EligibilityRule.effective_from, EligibilityRule.id)
    ).all()
    if not rows:
        rule = DEFAULT_RULES.get(answers.service)
        ordered = [rule] if rule else []
    else:
        ordered = [
            Rule(
                r.service,
                r.min_age_years,
                r.state_residents_only,
                r.max_age_years,
                r.requires_condition,
                r.phase,
            )
            for r in rows
            if r.effective_from <= today
        ]
    check(answers, today=today, rules={answers.service: ordered})
    phases = list(dict.fromkeys(rule.phase for rule in ordered))
    age = age_on(answers.date_of_birth, today)
    first = next(rule for rule in ordered if not _failures(rule, answers, age))
    return phases.index(first.phase), first.phase
