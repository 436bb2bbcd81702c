"""What a clinic's own scheduling system may do: push slot batches and read a day's roster.

Every change goes through the console's services (``schedule.plan_schedule`` and
``create_schedule`` for a new slot, ``set_capacity``, ``close_slot`` and so the closure rules),
so the API cannot do what the console may not. A batch is one transaction: every item is
applied or none is. It is kept under the clinic's Idempotency-Key with a hash of its body: a
retry is answered with the first result, a different body under the same key is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import Clinic, ClinicApiBatch, Slot, VaccineProduct
from booking.services import schedule
from booking.services.errors import Conflict, DomainError, InvalidInput, NotFound
from booking.services.notices import DEFAULT_NOTICES, NoticePolicy
from booking.services.text import N_
from booking.services.validation import parse_iso_datetime

MAX_ITEMS = 200  # at about 170 bytes an item, a full batch stays well under the 64 KiB body limit
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
REASON_MAX = 200
# The console's schedule form names its fields differently; an API client reads these.
_FIELDS = {
    "first": "starts_at",
    "last": "starts_at",
    "weekdays": "starts_at",
    "closes": "ends_at",
    "slot_minutes": "ends_at",
    "service": "service",
    "product_id": "product_id",
    "capacity": "capacity",
    "slot_id": "external_id",
}


class IdempotencyMismatch(DomainError):
    """The Idempotency-Key was used before for a different body."""

    status = 422
    title = N_("Idempotency key reused")


@dataclass(frozen=True)
class BatchOutcome:
    """A batch's result, and whether it is the stored answer of an earlier request."""

    result: dict[str, Any]
    replayed: bool


def body_hash(body: Any) -> str:
    """SHA-256 of the body's canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def apply_batch(
    session: Session,
    clinic: Clinic,
    idempotency_key: str,
    body: dict[str, Any],
    *,
    key_id: int,
    now: datetime,
    notices: NoticePolicy = DEFAULT_NOTICES,
) -> BatchOutcome:
    """Apply a batch of slot changes for one clinic, or answer its earlier result."""
    digest = body_hash(body)
    earlier = session.scalars(
        select(ClinicApiBatch).where(
            ClinicApiBatch.clinic_id == clinic.id,
            ClinicApiBatch.idempotency_key == idempotency_key,
        )
    ).one_or_none()
    if earlier is not None:
        if earlier.request_hash != digest:
            raise IdempotencyMismatch(
                N_("This Idempotency-Key was used for a different batch; use a new key.")
            )
        return BatchOutcome(earlier.result, True)
    items = _items(body)
    batch = ClinicApiBatch(
        clinic_id=clinic.id,
        idempotency_key=idempotency_key,
        request_hash=digest,
        key_id=key_id,
        created_at=now,
        result={},
        items=len(items),
    )
    try:
        # First, so a second request with this key (through another key of the clinic) waits
        # here for this one and is then refused, instead of applying the batch twice.
        with session.begin_nested():
            session.add(batch)
            session.flush()
    except IntegrityError:
        raise Conflict(
            N_("A batch with this Idempotency-Key is being applied; send it again.")
        ) from None
    results = []
    for index, item in enumerate(items):
        try:
            results.append(_apply(session, clinic, item, now=now, notices=notices))
        except DomainError as exc:
            raise _at(exc, index) from None
    batch.result = {"idempotency_key": idempotency_key, "slots": results}
    session.flush()
    return BatchOutcome(batch.result, False)


def _at(exc: DomainError, index: int) -> DomainError:
    """The error with its fields pointing into the batch (``slots/3/capacity``)."""
    where = f"slots/{index}"
    fields = {f"{where}/{_FIELDS.get(k, k)}": v for k, v in exc.errors.items()}
    exc.errors = fields or {where: exc.detail}
    return exc


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(N_("Please correct the batch."), errors={field: message})


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("slots")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise _invalid("slots", N_("Send 1 to 200 slots in a batch."))
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid(f"slots/{index}", N_("Each slot is a JSON object."))
        external_id = item.get("external_id")
        if not isinstance(external_id, str) or not EXTERNAL_ID_RE.match(external_id):
            raise _invalid(
                f"slots/{index}/external_id",
                N_("Use 1 to 64 letters, digits and . _ : / - (starting with a letter or digit)."),
            )
        if external_id in seen:
            raise _invalid(f"slots/{index}/external_id", N_("Each slot may appear once a batch."))
        seen.add(external_id)
    return items


def _slot(session: Session, clinic: Clinic, external_id: str) -> Slot | None:
    return session.scalars(
        select(Slot)
        .where(Slot.clinic_id == clinic.id, Slot.external_id == external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _apply(
    session: Session, clinic: Clinic, item: dict[str, Any], *, now: datetime, notices: NoticePolicy
) -> dict[str, Any]:
    external_id = item["external_id"]
    slot = _slot(session, clinic, external_id)
    closed = item.get("closed", False)
    if not isinstance(closed, bool):
        raise _invalid("closed", N_("Use true or false."))
    if closed:
        if slot is None:
            raise NotFound(N_("No slot with that external id at this clinic."))
        reason = item.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX):
            raise _invalid("reason", N_("Give a reason of at most 200 characters."))
        if not slot.is_open:
            return _outcome(slot, "unchanged")
        report = schedule.close_slot(
            session, clinic.id, slot.id, now=now, reason=reason or None, notices=notices
        )
        return {**_outcome(slot, "closed"), "bookings_cancelled": report.bookings_cancelled}
    capacity = item.get("capacity")
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise _invalid("capacity", N_("Give the capacity as a whole number."))
    if slot is None:
        return _create(session, clinic, item, capacity, now=now)
    _same_window(session, slot, item)
    if not slot.is_open:
        raise Conflict(N_("That slot is closed; push a new slot with a new external id."))
    if capacity == slot.capacity:
        return _outcome(slot, "unchanged")
    schedule.set_capacity(session, clinic.id, slot.id, capacity)
    return _outcome(slot, "updated")


def _outcome(slot: Slot, outcome: str) -> dict[str, Any]:
    return {"external_id": slot.external_id, "slot_id": slot.id, "outcome": outcome}


def _product(session: Session, item: dict[str, Any]) -> tuple[VaccineProduct | None, str]:
    raw_product, service = item.get("product_id"), item.get("service")
    if raw_product is not None:
        product = (
            session.get(VaccineProduct, raw_product)
            if isinstance(raw_product, int)
            and not isinstance(raw_product, bool)
            and 1 <= raw_product <= 2**31 - 1
            else None
        )
        if product is None:
            raise _invalid("product_id", N_("Choose a vaccine this clinic offers."))
        return product, product.service
    if not isinstance(service, str):
        raise _invalid("service", N_("Give a service or a product_id."))
    return None, service


def _window(item: dict[str, Any]) -> tuple[datetime, datetime]:
    starts = parse_iso_datetime(item.get("starts_at"), field="starts_at")
    ends = parse_iso_datetime(item.get("ends_at"), field="ends_at")
    for field, moment in (("starts_at", starts), ("ends_at", ends)):
        if moment.second or moment.microsecond:
            raise _invalid(field, N_("Give whole minutes."))
    return starts, ends


def _same_window(session: Session, slot: Slot, item: dict[str, Any]) -> None:
    """A known slot may change its capacity only; a moved time or vaccine is refused."""
    moved = False
    if "starts_at" in item or "ends_at" in item:
        starts, ends = _window(item)
        moved = (starts, ends) != (slot.starts_at, slot.ends_at)
    if "product_id" in item or "service" in item:
        product, service = _product(session, item)
        moved = moved or service != slot.service or bool(product and product.id != slot.product_id)
    if moved:
        raise Conflict(N_("A slot cannot be moved: close it and push a new one."))


def _create(
    session: Session, clinic: Clinic, item: dict[str, Any], capacity: int, *, now: datetime
) -> dict[str, Any]:
    """A new slot, laid out by the console's own schedule rules (one window of one day)."""
    starts, ends = _window(item)
    product, service = _product(session, item)
    zone = ZoneInfo(clinic.timezone)
    local_start, local_end = starts.astimezone(zone), ends.astimezone(zone)
    if local_end.date() != local_start.date():
        raise _invalid("ends_at", N_("A slot ends on the day it starts."))
    minutes = int((ends - starts) / timedelta(minutes=1))
    plan = schedule.plan_schedule(
        clinic,
        first=local_start.date(),
        last=local_start.date(),
        weekdays={local_start.weekday()},
        opens=local_start.time(),
        closes=local_end.time(),
        slot_minutes=minutes,
        capacity=capacity,
        now=now,
        service=service,
        product=product,
    )
    if [w for w in plan.windows if w[0] == starts] != [(starts, ends)]:
        raise _invalid("starts_at", N_("The slot must start in the future."))
    plan = schedule.SchedulePlan(plan.service, capacity, [(starts, ends)], plan.product_id)
    created = schedule.create_schedule(session, clinic, plan, now=now)
    slot = session.scalars(
        select(Slot)
        .where(
            Slot.clinic_id == clinic.id,
            Slot.starts_at == starts,
            Slot.product_id == schedule.plan_product_id(session, plan),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if slot.external_id is not None:
        raise Conflict(N_("Another external id already names the slot at that time."))
    if not slot.is_open:
        raise Conflict(N_("That slot is closed; push a new slot with a new external id."))
    # A slot the console made at that time becomes this one: the clinic's system now names it.
    slot.external_id = item["external_id"]
    session.flush()
    if created:
        return _outcome(slot, "created")
    if slot.capacity != capacity:
        schedule.set_capacity(session, clinic.id, slot.id, capacity)
    return _outcome(slot, "adopted")


def roster(session: Session, clinic: Clinic, day: Any) -> list[dict[str, Any]]:
    """The clinic's booked residents on a local day, as its system reads them."""
    zone = ZoneInfo(clinic.timezone)
    return [
        {
            "confirmation_code": reservation.confirmation_code,
            "status": reservation.status,
            "first_name": reservation.first_name,
            "last_name": reservation.last_name,
            "date_of_birth": reservation.date_of_birth.isoformat()
            if reservation.date_of_birth
            else None,
            "phone": reservation.phone,
            "dose_number": reservation.dose_number,
            "slot": {
                "id": slot.id,
                "external_id": slot.external_id,
                "service": slot.service,
                "product_id": slot.product_id,
                "starts_at": slot.starts_at.astimezone(zone).isoformat(),
                "ends_at": slot.ends_at.astimezone(zone).isoformat(),
            },
        }
        for reservation, slot in schedule.roster(session, clinic, day)
    ]
