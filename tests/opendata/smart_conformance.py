"""A strict SMART Scheduling Links conformance check, written for these tests.

It reads one manifest and the files it lists the way a 2021 client does, and returns every
breach of what FairSlot publishes: the spec's required fields and formats, the extensions it
defines (with their fixed URLs and value types), the references between files, and, for the
default manifest, that nothing in it is anything but a COVID-19 place. An empty list means the
feed passed. fhir.resources checks the FHIR side; this checks the profile on top of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

REGISTRY = "http://fhir-registry.smarthealthit.org"
HL7_SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
SMART_SERVICE_TYPE = f"{REGISTRY}/CodeSystem/service-type"
CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"
PRODUCT_URL = f"{REGISTRY}/StructureDefinition/vaccine-product"
DOSE_URL = f"{REGISTRY}/StructureDefinition/vaccine-dose"
SCHEDULE_EXTENSIONS = {
    PRODUCT_URL: "valueCoding",
    DOSE_URL: "valueInteger",
    f"{REGISTRY}/StructureDefinition/has-availability": "valueCode",
}
SLOT_EXTENSIONS = {
    f"{REGISTRY}/StructureDefinition/booking-deep-link": "valueUrl",
    f"{REGISTRY}/StructureDefinition/booking-phone": "valueString",
    f"{REGISTRY}/StructureDefinition/slot-capacity": "valueInteger",
}
ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
CVX_CODE = re.compile(r"[0-9]{1,3}")
STATE = re.compile(r"[A-Z]{2}")
KINDS = ("Location", "Schedule", "Slot")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _url(value: object) -> bool:
    return isinstance(value, str) and re.match(r"https?://[^\s]+$", value) is not None


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not INSTANT.fullmatch(value):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def is_covid19(schedule: Mapping[str, Any]) -> bool:
    """Whether a Schedule says COVID-19 immunization the way the spec defines it."""
    return any(
        coding.get("system") == SMART_SERVICE_TYPE and coding.get("code") == "covid19-immunization"
        for concept in schedule.get("serviceType") or []
        for coding in concept.get("coding") or []
    )


def check_manifest(manifest: Any, url: str) -> list[str]:
    """The manifest's own fields."""
    problems = []
    if not isinstance(manifest, dict):
        return ["manifest: not a JSON object"]
    if _instant(manifest.get("transactionTime")) is None:
        problems.append("manifest: transactionTime is not an instant with an offset")
    request = manifest.get("request")
    if not _url(request) or not str(request).endswith("$bulk-publish") or request != url:
        problems.append(f"manifest: request {request!r} is not the manifest's full URL {url!r}")
    if manifest.get("error", []) != []:
        problems.append("manifest: error is not an empty list")
    output = manifest.get("output")
    if not isinstance(output, list):
        return [*problems, "manifest: output is not a list"]
    for n, entry in enumerate(output):
        where = f"manifest output[{n}]"
        if not isinstance(entry, dict) or entry.get("type") not in KINDS:
            problems.append(f"{where}: type is not one of {KINDS}")
            continue
        if not _url(entry.get("url")):
            problems.append(f"{where}: url is not an absolute URL")
        extension = entry.get("extension")
        if extension is not None:
            states = extension.get("state") if isinstance(extension, dict) else None
            if not isinstance(states, list) or not states:
                problems.append(f"{where}: extension.state is not a non-empty list")
            elif not all(isinstance(s, str) and STATE.fullmatch(s) for s in states):
                problems.append(f"{where}: extension.state has a value that is not a state code")
    return problems


def _check_location(resource: dict[str, Any]) -> list[str]:
    where = f"Location {resource.get('id')!r}"
    problems = []
    if not _text(resource.get("name")):
        problems.append(f"{where}: no name")
    telecom = resource.get("telecom")
    if not isinstance(telecom, list) or not telecom:
        problems.append(f"{where}: telecom needs at least one contact point")
    elif any(t.get("system") not in ("phone", "url") or not _text(t.get("value")) for t in telecom):
        problems.append(f"{where}: a telecom is not a phone or URL with a value")
    address = resource.get("address")
    if not isinstance(address, dict):
        problems.append(f"{where}: no address")
    else:
        lines = address.get("line")
        if not isinstance(lines, list) or not lines or not all(_text(x) for x in lines):
            problems.append(f"{where}: address.line is not a list of lines")
        for field in ("city", "state", "postalCode"):
            if not _text(address.get(field)):
                problems.append(f"{where}: address.{field} is missing")
    identifier = resource.get("identifier")
    if not isinstance(identifier, list) or not identifier:
        problems.append(f"{where}: identifier needs at least one entry")
    elif any(not _text(i.get("system")) or not _text(i.get("value")) for i in identifier):
        problems.append(f"{where}: an identifier lacks its system or value")
    position = resource.get("position")
    if position is not None and not all(
        isinstance(position.get(k), int | float) for k in ("latitude", "longitude")
    ):
        problems.append(f"{where}: position lacks a numeric latitude or longitude")
    return problems


def _check_extensions(where: str, extensions: Any, allowed: Mapping[str, str]) -> list[str]:
    if extensions is None:
        return []
    if not isinstance(extensions, list):
        return [f"{where}: extension is not a list"]
    problems = []
    for extension in extensions:
        url = extension.get("url") if isinstance(extension, dict) else None
        if url not in allowed:
            problems.append(f"{where}: unknown extension {url!r}")
            continue
        value_keys = {k for k in extension if k.startswith("value")}
        if value_keys != {allowed[url]}:
            problems.append(f"{where}: {url} must carry exactly {allowed[url]}, not {value_keys}")
    return problems


def _check_product(where: str, extensions: list[dict[str, Any]]) -> list[str]:
    products = [e for e in extensions if e.get("url") == PRODUCT_URL]
    if len(products) > 1:
        return [f"{where}: the vaccine-product extension repeats (one product per Schedule)"]
    problems = []
    for extension in products:
        coding = extension.get("valueCoding")
        if not isinstance(coding, dict) or coding.get("system") != CVX_SYSTEM:
            problems.append(f"{where}: vaccine-product is not coded in {CVX_SYSTEM}")
        elif not isinstance(coding.get("code"), str) or not CVX_CODE.fullmatch(coding["code"]):
            problems.append(f"{where}: vaccine-product code {coding.get('code')!r} is not CVX")
        elif not _text(coding.get("display")):
            problems.append(f"{where}: vaccine-product has no display")
    return problems


def _check_doses(where: str, extensions: list[dict[str, Any]]) -> list[str]:
    doses = [e.get("valueInteger") for e in extensions if e.get("url") == DOSE_URL]
    problems = [f"{where}: dose {d!r} is not 1 or 2" for d in doses if not _is_int(d)]
    problems += [
        f"{where}: dose {d!r} is not 1 or 2" for d in doses if _is_int(d) and d not in (1, 2)
    ]
    if len(doses) != len(set(map(repr, doses))):
        problems.append(f"{where}: a dose number repeats")
    return problems


def _check_schedule(resource: dict[str, Any], locations: set[str], covid_only: bool) -> list[str]:
    where = f"Schedule {resource.get('id')!r}"
    problems = []
    actor = resource.get("actor")
    reference = actor[0].get("reference") if isinstance(actor, list) and len(actor) == 1 else None
    if not isinstance(reference, str) or not reference.startswith("Location/"):
        problems.append(f"{where}: actor is not one Location reference")
    elif reference.removeprefix("Location/") not in locations:
        problems.append(f"{where}: actor {reference} is not in this manifest's Location files")
    concepts = resource.get("serviceType")
    codings = [c for concept in concepts or [] for c in concept.get("coding") or []]
    if not any(c.get("system") == HL7_SERVICE_TYPE and c.get("code") == "57" for c in codings):
        problems.append(f"{where}: serviceType lacks the Immunization (57) coding")
    if covid_only and not is_covid19(resource):
        problems.append(f"{where}: not a covid19-immunization Schedule in a COVID-19 manifest")
    if not covid_only and is_covid19(resource):
        problems.append(f"{where}: a covid19-immunization Schedule outside the COVID-19 manifest")
    extensions = resource.get("extension")
    problems += _check_extensions(where, extensions, SCHEDULE_EXTENSIONS)
    if isinstance(extensions, list):
        known = [e for e in extensions if isinstance(e, dict)]
        problems += _check_product(where, known) + _check_doses(where, known)
    return problems


def _check_slot(resource: dict[str, Any], schedules: set[str]) -> list[str]:
    where = f"Slot {resource.get('id')!r}"
    problems = []
    reference = (resource.get("schedule") or {}).get("reference")
    if not isinstance(reference, str) or not reference.startswith("Schedule/"):
        problems.append(f"{where}: schedule is not a Schedule reference")
    elif reference.removeprefix("Schedule/") not in schedules:
        problems.append(f"{where}: {reference} is not in this manifest's Schedule files")
    if resource.get("status") not in ("free", "busy"):
        problems.append(f"{where}: status is not free or busy")
    start, end = _instant(resource.get("start")), _instant(resource.get("end"))
    if start is None or end is None:
        problems.append(f"{where}: start or end is not an instant with an offset")
    elif end <= start:
        problems.append(f"{where}: ends before it starts")
    extensions = resource.get("extension")
    problems += _check_extensions(where, extensions, SLOT_EXTENSIONS)
    for extension in extensions if isinstance(extensions, list) else []:
        value = extension.get("valueInteger", 1)
        if not _is_int(value) or value < 1:
            problems.append(f"{where}: slot-capacity {value!r} is not a positive integer")
        if "valueUrl" in extension and not _url(extension["valueUrl"]):
            problems.append(f"{where}: booking-deep-link is not an absolute URL")
    return problems


def check_feed(
    manifest: Any,
    url: str,
    files: Mapping[str, Iterable[dict[str, Any]]],
    *,
    covid_only: bool,
    cvx_codes: set[str] | None = None,
) -> list[str]:
    """Every breach in one manifest and its files (``files``: file URL -> its resources).

    ``covid_only``: the default manifest, where every Schedule must be a COVID-19 one (and, in
    any other manifest, none may be). ``cvx_codes``: the products this manifest may name.
    """
    problems = check_manifest(manifest, url)
    by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    output = manifest.get("output") if isinstance(manifest, dict) else None
    for entry in output if isinstance(output, list) else []:
        if not isinstance(entry, dict):
            continue
        for resource in files.get(entry.get("url"), []):
            if resource.get("resourceType") != entry.get("type"):
                problems.append(f"{entry.get('url')}: a {resource.get('resourceType')} line")
            by_kind.setdefault(resource.get("resourceType", "?"), []).append(resource)
    for kind in KINDS:
        ids = [r.get("id") for r in by_kind[kind]]
        problems += [
            f"{kind} {i!r}: id is not 1-64 letters, digits, - or ."
            for i in ids
            if not isinstance(i, str) or not ID.fullmatch(i)
        ]
        if len(ids) != len(set(map(repr, ids))):
            problems.append(f"{kind}: an id repeats within the manifest")
    locations = {r.get("id") for r in by_kind["Location"]}
    schedules = {r.get("id") for r in by_kind["Schedule"]}
    for resource in by_kind["Location"]:
        problems += _check_location(resource)
    for resource in by_kind["Schedule"]:
        problems += _check_schedule(resource, locations, covid_only)
        for extension in resource.get("extension") or []:
            code = (extension.get("valueCoding") or {}).get("code")
            if (
                extension.get("url") == PRODUCT_URL
                and cvx_codes is not None
                and code not in cvx_codes
            ):
                problems.append(
                    f"Schedule {resource.get('id')!r}: product {code!r} not expected here"
                )
    for resource in by_kind["Slot"]:
        problems += _check_slot(resource, schedules)
    return problems
