"""The spec's Location and Schedule requirements (see spec_checks; spec_slots has the Slots)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from tests.opendata.smart_conformance import ID
from tests.opendata.spec_checks import (
    CVX,
    DOSE,
    HAS_AVAILABILITY,
    HL7_SERVICE_TYPE,
    KINDS,
    PRODUCT,
    SMART_SERVICE_TYPE,
    VTRCKS,
    Capture,
    check,
    each,
    extensions,
    resources,
    text,
)

COVID19_MANIFESTS = ("/$bulk-publish", "/covid19/$bulk-publish")


@check(
    "ids",
    "Every `id` is up to 64 alphanumeric characters and may include `-` and `.`; it identifies "
    "one resource (unique within its type in a manifest).",
)
def ids(capture: Capture) -> list[str]:
    """Resource ids."""
    problems = []
    for manifest in capture.manifests:
        for kind in KINDS:
            found = [r.get("id") for r in resources(capture, manifest, kind)]
            problems += [
                f"{manifest}: {kind} id {i!r}"
                for i in found
                if not isinstance(i, str) or not ID.fullmatch(i)
            ]
            problems += [
                f"{manifest}: {kind} id {i!r} repeats"
                for i, n in Counter(map(repr, found)).items()
                if n > 1
            ]
    return problems


@check(
    "location-required",
    "A Location has a `name`; `telecom` SHALL include at least one contact point, each a "
    "`system` (`phone` or `url`) and a `value`; an `address` with `line` (an array of "
    "strings), `city`, `state` and `postalCode`; `identifier`, an array of `system` and `value`.",
)
def location_required(capture: Capture) -> list[str]:
    """The Location's required fields."""
    problems = []
    for _, location in each(capture, "Location"):
        where = f"Location {location.get('id')!r}"
        if not text(location.get("name")):
            problems.append(f"{where}: no name")
        telecom = location.get("telecom")
        if not isinstance(telecom, list) or not telecom:
            problems.append(f"{where}: no contact point")
        elif not all(t.get("system") in ("phone", "url") and text(t.get("value")) for t in telecom):
            problems.append(f"{where}: a contact point is not a phone or URL with a value")
        address = location.get("address") or {}
        lines = address.get("line")
        if not isinstance(lines, list) or not lines or not all(text(x) for x in lines):
            problems.append(f"{where}: address.line is not an array of strings")
        problems += [
            f"{where}: no address.{f}"
            for f in ("city", "state", "postalCode")
            if not text(address.get(f))
        ]
        identifier = location.get("identifier")
        if not isinstance(identifier, list) or not identifier:
            problems.append(f"{where}: no identifier")
        elif not all(text(i.get("system")) and text(i.get("value")) for i in identifier):
            problems.append(f"{where}: an identifier lacks its system or value")
    return problems


@check(
    "location-phone-and-url",
    "A Location's `telecom` SHOULD include both a phone number and a URL.",
)
def location_phone_and_url(capture: Capture) -> list[str]:
    """Both kinds of contact point."""
    return [
        f"Location {location.get('id')!r}: not both a phone and a URL"
        for _, location in each(capture, "Location")
        if {t.get("system") for t in location.get("telecom") or []} != {"phone", "url"}
    ]


@check(
    "location-optional-fields",
    "Optional fields have their types: `address.district` (the county) and `description` are "
    "strings; `position` is populated with a numeric `latitude` and `longitude` if included.",
)
def location_optional_fields(capture: Capture) -> list[str]:
    """The optional fields, when present."""
    problems = []
    for _, location in each(capture, "Location"):
        where = f"Location {location.get('id')!r}"
        address = location.get("address") or {}
        if "district" in address and not text(address["district"]):
            problems.append(f"{where}: address.district is not a string")
        if "description" in location and not text(location["description"]):
            problems.append(f"{where}: description is not a string")
        position = location.get("position")
        if position is not None and not all(
            isinstance(position.get(k), int | float) and not isinstance(position.get(k), bool)
            for k in ("latitude", "longitude")
        ):
            problems.append(f"{where}: position without a numeric latitude and longitude")
    return problems


@check(
    "vtrcks-pin",
    "Publishers SHOULD include a Location's VTrckS PINs, with the fixed system "
    "`https://cdc.gov/vaccines/programs/vtrcks` (every demo clinic has one).",
)
def vtrcks_pin(capture: Capture) -> list[str]:
    """A VTrckS identifier on every Location, under its fixed system."""
    problems = []
    for _, location in each(capture, "Location"):
        systems = [i.get("system") for i in location.get("identifier") or []]
        if VTRCKS not in systems:
            problems.append(f"Location {location.get('id')!r}: no VTrckS PIN")
        odd = [s for s in systems if isinstance(s, str) and "vtrcks" in s.lower() and s != VTRCKS]
        if odd:
            problems.append(f"Location {location.get('id')!r}: VTrckS under {odd}")
    return problems


@check(
    "fairslot-county-and-identifier",
    "FairSlot: every Location names its county (`address.district`) and carries FairSlot's own "
    "identifier under an absolute URI, stable across moves of the site.",
)
def county_and_identifier(capture: Capture) -> list[str]:
    """The county and the organisation's own identifier."""
    problems = []
    for _, location in each(capture, "Location"):
        where = f"Location {location.get('id')!r}"
        if not text((location.get("address") or {}).get("district")):
            problems.append(f"{where}: no county")
        own = [i for i in location.get("identifier") or [] if i.get("system") != VTRCKS]
        if [i.get("value") for i in own] != [location.get("id")]:
            problems.append(f"{where}: not one own identifier with its id")
    return problems


@check(
    "schedule-actor",
    "A Schedule's `actor` is an array with one object whose `reference` is `Location/` + the id "
    "of an entry in a Location File.",
)
def schedule_actor(capture: Capture) -> list[str]:
    """Each Schedule points at one listed Location."""
    problems = []
    for manifest in capture.manifests:
        known = {r.get("id") for r in resources(capture, manifest, "Location")}
        for schedule in resources(capture, manifest, "Schedule"):
            actor = schedule.get("actor")
            reference = (
                actor[0].get("reference") if isinstance(actor, list) and len(actor) == 1 else None
            )
            if (
                not isinstance(reference, str)
                or reference.removeprefix("Location/") not in known
                or not reference.startswith("Location/")
            ):
                problems.append(f"{manifest}: Schedule {schedule.get('id')!r} actor {actor!r}")
    return problems


def _codings(schedule: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for concept in schedule.get("serviceType") or [] for c in concept.get("coding") or []]


@check(
    "schedule-service-type",
    "`serviceType` is an array of concepts; a COVID-19 immunization Schedule must include both "
    "codings: HL7 service-type `57` and SMART's `covid19-immunization`.",
)
def schedule_service_type(capture: Capture) -> list[str]:
    """Service types; FairSlot's COVID-19 manifests hold only COVID-19 Schedules."""
    problems = []
    for manifest, schedule in each(capture, "Schedule"):
        where = f"{manifest}: Schedule {schedule.get('id')!r}"
        if not isinstance(schedule.get("serviceType"), list) or not schedule["serviceType"]:
            problems.append(f"{where}: no serviceType array")
            continue
        pairs = {(c.get("system"), c.get("code")) for c in _codings(schedule)}
        covid = (SMART_SERVICE_TYPE, "covid19-immunization") in pairs
        if covid and (HL7_SERVICE_TYPE, "57") not in pairs:
            problems.append(f"{where}: COVID-19 without the Immunization (57) coding")
        if (urlsplit(manifest).path in COVID19_MANIFESTS) != covid:
            problems.append(
                f"{where}: COVID-19 coding {'missing' if not covid else 'out of place'}"
            )
    return problems


@check(
    "vaccine-product",
    "The vaccine-product extension SHOULD NOT repeat; its `valueCoding` has the system "
    "`http://hl7.org/fhir/sid/cvx`, a valid CVX `code` and a `display`.",
)
def vaccine_product(capture: Capture) -> list[str]:
    """One CVX-coded product per Schedule."""
    problems = []
    for _, schedule in each(capture, "Schedule"):
        where = f"Schedule {schedule.get('id')!r}"
        products = extensions(schedule, PRODUCT)
        if len(products) > 1:
            problems.append(f"{where}: the vaccine-product extension repeats")
        for product in products:
            coding = product.get("valueCoding") or {}
            if set(product) != {"url", "valueCoding"} or coding.get("system") != CVX:
                problems.append(f"{where}: vaccine-product is not a CVX valueCoding")
            elif not (isinstance(coding.get("code"), str) and coding["code"].isdigit()):
                problems.append(f"{where}: CVX code {coding.get('code')!r}")
            elif not text(coding.get("display")):
                problems.append(f"{where}: vaccine-product without a display")
    return problems


@check(
    "vaccine-dose",
    "The dose-number extension's `valueInteger` is a dose sequence number (1 or 2 for current "
    "vaccines); it MAY repeat, each dose once.",
)
def vaccine_dose(capture: Capture) -> list[str]:
    """Dose numbers."""
    problems = []
    for _, schedule in each(capture, "Schedule"):
        doses = [e.get("valueInteger", e) for e in extensions(schedule, DOSE)]
        if any(d not in (1, 2) or isinstance(d, bool) for d in doses) or len(doses) != len(
            set(map(repr, doses))
        ):
            problems.append(f"Schedule {schedule.get('id')!r}: doses {doses!r}")
    return problems


@check(
    "no-has-availability",
    "Slot Publishers SHALL NOT use the has-availability extension in place of publishing "
    "granular Slots (it is for aggregators); every Schedule's `extension` is an array.",
)
def no_has_availability(capture: Capture) -> list[str]:
    """No aggregator-only extension on a first-party Schedule."""
    problems = []
    for _, schedule in each(capture, "Schedule"):
        if not isinstance(schedule.get("extension"), list):
            problems.append(f"Schedule {schedule.get('id')!r}: extension is not an array")
        if extensions(schedule, HAS_AVAILABILITY):
            problems.append(f"Schedule {schedule.get('id')!r}: has-availability")
    return problems
