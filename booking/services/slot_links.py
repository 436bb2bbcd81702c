"""The clinic page's query string that offers one slot: its day, its vaccine and the slot.

The open data's deep links carry it, and a visitor sent to the waiting room from that page is
brought back to the same query, so the day, vaccine and slot survive the wait.
"""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from booking.models import Clinic, Slot, VaccineProduct


def slot_page_query(slot: Slot, timezone: str, product: VaccineProduct) -> str:
    """``date`` (the clinic's local day), ``vaccine`` and ``slot``, as a query string.

    ``vaccine`` is the product's key; a retired product's slot names its service instead, since
    the page's filter refuses a retired product (and its slots stay bookable). Written out
    rather than with ``urlencode``: the feed makes one per published slot, and ``urlencode``
    was 40% of a rebuild.
    """
    day = slot.starts_at.astimezone(ZoneInfo(timezone)).date().isoformat()
    vaccine = product.key if product.active else slot.service
    return f"date={day}&vaccine={quote(vaccine, safe='')}&slot={slot.id}"


def slot_page_query_for(session: Session, slot: Slot) -> str:
    """``slot_page_query`` for a loaded slot, reading its clinic's zone and its product."""
    clinic = session.get(Clinic, slot.clinic_id)
    product = session.get(VaccineProduct, slot.product_id)
    if clinic is None or product is None:  # the foreign keys make this unreachable
        return f"slot={slot.id}"
    return slot_page_query(slot, clinic.timezone, product)
