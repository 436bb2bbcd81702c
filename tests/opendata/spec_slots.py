"""The spec's Slot requirements and its deep links (see spec_checks)."""

from __future__ import annotations

import json
from collections import Counter
from zoneinfo import ZoneInfo

from tests.opendata.spec_checks import (
    ABSOLUTE_URL,
    SLOT_EXTENSIONS,
    Capture,
    check,
    each,
    instant,
    resources,
    schedule_of,
    slot_locations,
    text,
)


@check(
    "slot-schedule",
    "A Slot's `schedule.reference` is `Schedule/` + the id of an entry in a Schedule File; its "
    "`status` is `free` or `busy`.",
)
def slot_schedule(capture: Capture) -> list[str]:
    """Each Slot's Schedule and status."""
    problems = []
    for manifest in capture.manifests:
        known = {r.get("id") for r in resources(capture, manifest, "Schedule")}
        for slot in resources(capture, manifest, "Slot"):
            reference = (slot.get("schedule") or {}).get("reference")
            if (
                not isinstance(reference, str)
                or not reference.startswith("Schedule/")
                or reference[9:] not in known
            ):
                problems.append(f"{manifest}: Slot {slot.get('id')!r} schedule {reference!r}")
            if slot.get("status") not in ("free", "busy"):
                problems.append(
                    f"{manifest}: Slot {slot.get('id')!r} status {slot.get('status')!r}"
                )
    return problems


@check(
    "busy-slots",
    "Publishers SHOULD include busy slots in addition to free slots, to help clients monitor "
    "total capacity (the demo has bookings, so some places are busy).",
)
def busy_slots(capture: Capture) -> list[str]:
    """Busy Slots are published."""
    statuses = {slot.get("status") for _, slot in each(capture, "Slot")}
    return [] if {"free", "busy"} <= statuses else [f"only {sorted(statuses)} Slots"]


@check(
    "slot-times",
    "`start` and `end` are timestamps with an accurate offset, which SHOULD reflect the local "
    "time zone of the Slot's Location (or be UTC, `Z`); `end` follows `start`.",
)
def slot_times(capture: Capture) -> list[str]:
    """Slot times and their offsets."""
    problems = []
    for manifest in capture.manifests:
        location_of = slot_locations(capture, manifest)
        for slot in resources(capture, manifest, "Slot"):
            start, end = instant(slot.get("start")), instant(slot.get("end"))
            where = f"Slot {slot.get('id')!r}"
            if start is None or end is None:
                problems.append(f"{where}: start or end is not a timestamp")
                continue
            if end <= start:
                problems.append(f"{where}: ends before it starts")
            zone = capture.zones.get(location_of.get(schedule_of(slot), ""))
            local = start.astimezone(ZoneInfo(zone)).utcoffset() if zone else None
            if not slot["start"].endswith("Z") and start.utcoffset() != local:
                problems.append(f"{where}: offset of {slot['start']} is not its Location's")
    return problems


@check(
    "slot-extensions",
    "A Slot's booking-deep-link carries a `valueUrl`, booking-phone a `valueString` and "
    "slot-capacity a `valueInteger` (a capacity).",
)
def slot_extensions(capture: Capture) -> list[str]:
    """The Slot extensions' value types."""
    problems = []
    for _, slot in each(capture, "Slot"):
        for extension in slot.get("extension") or []:
            kind = SLOT_EXTENSIONS.get(extension.get("url"))
            value = extension.get(kind) if kind else None
            values = [k for k in extension if k.startswith("value")]
            good = (
                kind is not None
                and values == [kind]
                and (
                    (
                        kind == "valueUrl"
                        and isinstance(value, str)
                        and ABSOLUTE_URL.fullmatch(value)
                    )
                    or (kind == "valueString" and text(value))
                    or (kind == "valueInteger" and type(value) is int and value > 0)
                )
            )
            if not good:
                problems.append(f"Slot {slot.get('id')!r}: extension {extension!r}")
    return problems


@check(
    "aggregated-slots",
    "Only otherwise identical slots (same schedule, status, start and end) are aggregated with "
    "slot-capacity: two Slots never share all four.",
)
def aggregated_slots(capture: Capture) -> list[str]:
    """No two Slots that should have been one."""
    problems = []
    for manifest in capture.manifests:
        keys = Counter(
            (json.dumps(s.get("schedule")), s.get("status"), s.get("start"), s.get("end"))
            for s in resources(capture, manifest, "Slot")
        )
        problems += [f"{manifest}: {n} Slots for {key}" for key, n in keys.items() if n > 1]
    return problems


@check(
    "free-is-bookable",
    'When publishing a Slot with `"status": "free"`, Publishers should ensure that the Slot '
    "is in fact available for booking: its capacity is the places bookable online now.",
)
def free_is_bookable(capture: Capture) -> list[str]:
    """Free capacity agrees with the database."""
    problems = []
    for _, slot in each(capture, "Slot"):
        if slot.get("status") != "free":
            continue
        capacity = [
            e.get("valueInteger") for e in slot.get("extension") or [] if "valueInteger" in e
        ]
        bookable = capture.online.get(str(slot.get("id", "")).split(".")[0], 0)
        if capacity != [bookable] or bookable < 1:
            problems.append(f"Slot {slot.get('id')!r}: free {capacity}, bookable {bookable}")
    return problems


@check(
    "deep-links",
    "A client parses the booking-deep-link and appends `source` and `booking-referral` (the link "
    "may already have parameters); the portal takes the visitor to that slot and may retain the "
    "referral through the booking.",
)
def deep_links(capture: Capture) -> list[str]:
    """Followed deep links lead to their slot and keep the referral."""
    problems = []
    if not capture.visits:
        return ["no deep link was followed"]
    for slot_id, visit in capture.visits.items():
        if visit.status != 200 or not visit.offers_slot:
            problems.append(f"Slot {slot_id!r}: its deep link does not offer it ({visit.status})")
        if visit.referral is None or not visit.referral.get("booking_referral"):
            problems.append(f"Slot {slot_id!r}: the booking-referral was not kept")
    return problems
