"""The vaccine products: the catalogue, each service's default, admin edits, and plain words.

The catalogue is the products FairSlot ships with; migration 0007 inserts a literal copy of it
(a migration never imports app code), so every database starts with these rows. CVX codes are
the CDC's (IIS vaccine code set). Ages and courses are those of the 2021 labels: the COVID-19
Emergency Use Authorizations as they stood in 2021 (Novavax: its 2022 authorization), the
ACIP 2021-22 influenza table (ages given in months are rounded up to whole years), and for
RSV the 2023-24 licences. The latest dose-2 interval is CDC's six weeks for every two-dose
COVID-19 product.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import Reservation, Slot, VaccineProduct
from booking.services.errors import InvalidInput, NotFound
from booking.services.inventory import SERVICES
from booking.services.text import N_, Msg
from booking.services.validation import parse_int

MAX_AGE = 130
MAX_INTERVAL_DAYS = 365
_CVX = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True)
class CatalogueProduct:
    """One product as shipped."""

    key: str
    service: str
    name: str
    manufacturer: str
    cvx_code: str
    min_age_years: int
    max_age_years: int | None = None
    doses: int = 1
    interval_days: int | None = None
    interval_max_days: int | None = None


CATALOGUE: tuple[CatalogueProduct, ...] = (
    CatalogueProduct(
        "pfizer-covid19", "covid19", "Pfizer-BioNTech", "Pfizer", "208", 12, None, 2, 21, 42
    ),
    CatalogueProduct(
        "moderna-covid19", "covid19", "Moderna", "Moderna", "207", 18, None, 2, 28, 42
    ),
    CatalogueProduct("janssen-covid19", "covid19", "Janssen", "Janssen Biotech", "212", 18),
    CatalogueProduct(
        "novavax-covid19", "covid19", "Novavax", "Novavax", "211", 18, None, 2, 21, 42
    ),
    CatalogueProduct("fluzone-flu", "flu", "Fluzone Quadrivalent", "Sanofi Pasteur", "150", 1),
    CatalogueProduct(
        "fluzone-high-dose-flu",
        "flu",
        "Fluzone High-Dose Quadrivalent",
        "Sanofi Pasteur",
        "197",
        65,
    ),
    CatalogueProduct("fluad-flu", "flu", "Fluad Quadrivalent", "Seqirus", "205", 65),
    CatalogueProduct("flucelvax-flu", "flu", "Flucelvax Quadrivalent", "Seqirus", "171", 2),
    CatalogueProduct("flublok-flu", "flu", "Flublok Quadrivalent", "Sanofi Pasteur", "185", 18),
    CatalogueProduct("arexvy-rsv", "rsv", "Arexvy", "GSK", "303", 60),
    CatalogueProduct("abrysvo-rsv", "rsv", "Abrysvo", "Pfizer", "305", 60),
    CatalogueProduct("mresvia-rsv", "rsv", "mRESVIA", "Moderna", "326", 60),
)

# The product a slot gets when only its service is known (a service-only schedule form, and the
# migration of slots made before products): for COVID-19 the one open to the youngest in 2021.
DEFAULT_PRODUCT_KEYS: dict[str, str] = {
    "covid19": "pfizer-covid19",
    "flu": "fluzone-flu",
    "rsv": "arexvy-rsv",
}

PRODUCT_FIELDS = (
    "name",
    "manufacturer",
    "cvx_code",
    "min_age_years",
    "max_age_years",
    "doses",
    "interval_days",
    "interval_max_days",
)


def _service_order() -> Any:
    return case({code: n for n, code in enumerate(SERVICES)}, value=VaccineProduct.service)


def list_products(
    session: Session, *, services: Iterable[str] | None = None, active_only: bool = False
) -> list[VaccineProduct]:
    """Products by service (in SERVICES order) then name; optionally only some, or active."""
    query = select(VaccineProduct).order_by(_service_order(), VaccineProduct.name)
    if services is not None:
        query = query.where(VaccineProduct.service.in_(list(services)))
    if active_only:
        query = query.where(VaccineProduct.active.is_(True))
    return list(session.scalars(query))


def default_product(session: Session, service: str) -> VaccineProduct:
    """The service's default product, or its first active one if the default was retired."""
    products = [p for p in list_products(session, services=[service]) if p.active]
    for product in products:
        if product.key == DEFAULT_PRODUCT_KEYS.get(service):
            return product
    if not products:
        raise NotFound(N_("No vaccine product is offered for this service."))
    return min(products, key=lambda p: p.id)


def get_product(session: Session, product_id: int) -> VaccineProduct:
    """One product by id."""
    product = session.get(VaccineProduct, product_id)
    if product is None:
        raise NotFound(N_("No vaccine product with that id."))
    return product


def describe(product: VaccineProduct | CatalogueProduct, dose: int | None = None) -> Msg:
    """The product in plain words: "COVID-19 vaccine (Moderna), dose 1 of 2"."""
    vaccine = SERVICES.get(product.service, product.service)
    if dose is not None and product.doses > 1:
        return N_(
            "%(vaccine)s (%(product)s), dose %(dose)d of %(doses)d",
            vaccine=vaccine,
            product=product.name,
            dose=dose,
            doses=product.doses,
        )
    return N_("%(vaccine)s (%(product)s)", vaccine=vaccine, product=product.name)


def describe_reservation(product: VaccineProduct, reservation: Reservation) -> Msg:
    """A booking's vaccine in plain words: every page, message and export shows this one."""
    return describe(product, reservation.dose_number)


def slot_product(session: Session, slot: Slot) -> VaccineProduct:
    """The product a slot is for (from the session's identity map when already loaded)."""
    return get_product(session, slot.product_id)


def reservation_product(session: Session, reservation: Reservation) -> VaccineProduct:
    """The product of a booking: its slot's."""
    slot = session.get(Slot, reservation.slot_id)
    if slot is None:
        raise NotFound(N_("No slot with that id."))
    return slot_product(session, slot)


def describe_booking(session: Session, reservation: Reservation) -> Msg:
    """Load a booking's product and describe it with describe_reservation."""
    return describe_reservation(reservation_product(session, reservation), reservation)


def describe_slot(session: Session, slot: Slot) -> Msg:
    """A slot's vaccine in plain words, where nothing is booked yet."""
    return describe(slot_product(session, slot))


_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")


@dataclass(frozen=True)
class VaccineFilter:
    """What a resident asked to see: any vaccine, any of one service, or one product."""

    service: str | None = None
    product: VaccineProduct | None = None

    @property
    def value(self) -> str:
        """The filter as it goes back into a URL: a product key, a service code, or ""."""
        return self.product.key if self.product else (self.service or "")


BAD_VACCINE = N_("Choose a vaccine from the list.")


def parse_vaccine_filter(session: Session, raw: object) -> VaccineFilter:
    """Read "" (any), a service code ("covid19": any COVID-19 vaccine) or a product key."""
    if raw is None or raw == "":
        return VaccineFilter()
    if isinstance(raw, str) and raw in SERVICES:
        return VaccineFilter(service=raw)
    # Checked before the database sees it: a NUL byte or a megabyte never reaches a query.
    if not isinstance(raw, str) or not _KEY.fullmatch(raw):
        raise InvalidInput(N_("Please correct the search."), errors={"vaccine": BAD_VACCINE})
    product = session.scalar(select(VaccineProduct).where(VaccineProduct.key == raw))
    if product is None or not product.active:
        raise InvalidInput(N_("Please correct the search."), errors={"vaccine": BAD_VACCINE})
    return VaccineFilter(service=product.service, product=product)


# Whole sentences per field, so each language can word them its own way.
_MISSING = {
    "name": N_("Enter the product's name."),
    "manufacturer": N_("Enter the manufacturer."),
}
_TOO_LONG = {
    "name": N_("The name must be at most %(limit)d plain characters."),
    "manufacturer": N_("The manufacturer must be at most %(limit)d plain characters."),
}


def _text(raw: object, field: str, errors: dict[str, str], limit: int = 100) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        errors[field] = _MISSING[field]
    elif len(value) > limit or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        errors[field] = N_(_TOO_LONG[field].msgid, limit=limit)
    return value


def _number(
    raw: object, field: str, low: int, high: int, errors: dict[str, str], *, optional: bool
) -> int | None:
    if optional and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return None
    try:
        return parse_int(raw, field=field, low=low, high=high)
    except InvalidInput as exc:
        errors.update(exc.errors)
        return None


def parse_product(raw: Mapping[str, Any], *, with_service: bool) -> dict[str, Any]:
    """Validate a product form; raise InvalidInput naming every bad field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": _text(raw.get("name"), "name", errors),
        "manufacturer": _text(raw.get("manufacturer"), "manufacturer", errors),
    }
    if with_service:
        values["service"] = raw.get("service")
        if not isinstance(values["service"], str) or values["service"] not in SERVICES:
            errors["service"] = N_("Choose a vaccine.")
    cvx = raw.get("cvx_code")
    values["cvx_code"] = cvx.strip() if isinstance(cvx, str) else ""
    if not _CVX.fullmatch(values["cvx_code"]):
        errors["cvx_code"] = N_("Enter the CDC CVX code: one to three digits, such as 207.")
    low = _number(raw.get("min_age_years"), "min_age_years", 0, MAX_AGE, errors, optional=False)
    high = _number(raw.get("max_age_years"), "max_age_years", 0, MAX_AGE, errors, optional=True)
    if low is not None and high is not None and high < low:
        errors["max_age_years"] = N_("The upper age must not be below the lower one.")
    values["min_age_years"], values["max_age_years"] = low, high
    doses = raw.get("doses")
    values["doses"] = {"1": 1, "2": 2}.get(doses.strip()) if isinstance(doses, str) else None
    if values["doses"] is None:
        errors["doses"] = N_("Choose one or two doses.")
    values.update(_intervals(raw, values["doses"], errors))
    if errors:
        raise InvalidInput(N_("Please correct the vaccine product."), errors=errors)
    return values


def _intervals(raw: Mapping[str, Any], doses: int | None, errors: dict[str, str]) -> dict[str, Any]:
    """The dose-2 interval: required for a two-dose course, absent for one dose."""
    days = _number(
        raw.get("interval_days"), "interval_days", 1, MAX_INTERVAL_DAYS, errors, optional=True
    )
    latest = _number(
        raw.get("interval_max_days"),
        "interval_max_days",
        1,
        MAX_INTERVAL_DAYS,
        errors,
        optional=True,
    )
    if doses == 2:
        if days is None and "interval_days" not in errors:
            errors["interval_days"] = N_("Enter the days from dose 1 to dose 2.")
        if latest is None and "interval_max_days" not in errors:
            errors["interval_max_days"] = N_("Enter the latest day for dose 2.")
        if days is not None and latest is not None and latest < days:
            errors["interval_max_days"] = N_(
                "The latest day for dose 2 must not be before the earliest."
            )
    elif doses == 1:
        for field, value in (("interval_days", days), ("interval_max_days", latest)):
            if value is not None:
                errors[field] = N_("Leave the intervals empty for a one-dose vaccine.")
        days = latest = None
    return {"interval_days": days, "interval_max_days": latest}


def _key_for(session: Session, name: str, service: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", f"{name} {service}".lower()).strip("-")[:70] or service
    key, n = base, 1
    while session.scalar(select(VaccineProduct.id).where(VaccineProduct.key == key)) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


def _check_cvx_free(session: Session, cvx_code: str, product_id: int | None) -> None:
    taken = session.scalar(
        select(VaccineProduct.id).where(
            VaccineProduct.cvx_code == cvx_code, VaccineProduct.id != (product_id or 0)
        )
    )
    if taken is not None:
        raise InvalidInput(
            N_("Please correct the vaccine product."),
            errors={"cvx_code": N_("Another product already has this CVX code.")},
        )


def _flush(session: Session) -> None:
    # Two admins saving the same CVX code at once: the unique index decides, not a 500.
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise InvalidInput(
            N_("Please correct the vaccine product."),
            errors={"cvx_code": N_("Another product already has this CVX code.")},
        ) from None


def create_product(session: Session, raw: Mapping[str, Any], *, now: datetime) -> VaccineProduct:
    """Add a product from form values."""
    values = parse_product(raw, with_service=True)
    _check_cvx_free(session, values["cvx_code"], None)
    product = VaccineProduct(
        key=_key_for(session, values["name"], values["service"]),
        active=True,
        created_at=now,
        **values,
    )
    session.add(product)
    _flush(session)
    return product


def update_product(session: Session, product_id: int, raw: Mapping[str, Any]) -> VaccineProduct:
    """Edit a product's details; its service stays (its slots are for that service)."""
    product = get_product(session, product_id)
    values = parse_product(raw, with_service=False)
    _check_cvx_free(session, values["cvx_code"], product_id)
    for name, value in values.items():
        setattr(product, name, value)
    _flush(session)
    return product


def set_active(session: Session, product_id: int, active: bool) -> VaccineProduct:
    """Retire a product (no new schedules for it; its slots stay) or bring it back."""
    product = get_product(session, product_id)
    product.active = active
    session.flush()
    return product
