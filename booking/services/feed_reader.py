"""Reading another provider's SMART Scheduling Links feed into what FairSlot keeps of it.

``read_feed`` fetches the manifest and its Location, Schedule and Slot files within one
``Budget`` and validates everything before anything is kept: one malformed resource, a file on
another site, a Slot whose Schedule is missing or a booking link that is not a web address
refuses the whole feed (FeedRefused), so a broken or hostile feed never becomes half of what
residents see. What is kept: each Location, and each free Slot starting within the horizon with
its capacity, vaccine, booking link and phone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from booking.services.feed_http import Budget, FeedRefused, get
from booking.services.products import CATALOGUE

KINDS = ("Location", "Schedule", "Slot")
MAX_FILES = 200
REGISTRY = "http://fhir-registry.smarthealthit.org"
VTRCKS = "https://cdc.gov/vaccines/programs/vtrcks"
COVID19 = (f"{REGISTRY}/CodeSystem/service-type", "covid19-immunization")
EXTENSIONS = {
    f"{REGISTRY}/StructureDefinition/vaccine-product": "product",
    f"{REGISTRY}/StructureDefinition/booking-deep-link": "link",
    f"{REGISTRY}/StructureDefinition/booking-phone": "phone",
    f"{REGISTRY}/StructureDefinition/slot-capacity": "capacity",
}
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_SERVICE_OF_CVX = {p.cvx_code: p.service for p in CATALOGUE}
_MAX_CAPACITY = 10_000


@dataclass(frozen=True)
class FeedLocation:
    """A provider's location, as kept."""

    source_id: str
    name: str
    address_line: str
    city: str
    state: str
    postal_code: str
    district: str | None
    latitude: float | None
    longitude: float | None
    phone: str | None
    url: str | None
    vtrcks_pin: str | None


@dataclass(frozen=True)
class FeedSlot:
    """A free slot of a provider, as kept."""

    location_id: str
    service: str | None
    cvx_code: str | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booking_link: str | None
    booking_phone: str | None


@dataclass(frozen=True)
class Snapshot:
    """Everything kept of one accepted feed."""

    locations: list[FeedLocation]
    slots: list[FeedSlot]


@dataclass(frozen=True)
class Reading:
    """The outcome of one fetch: unchanged, or a new snapshot; and the validators to keep."""

    snapshot: Snapshot | None  # None: nothing changed since the last accepted fetch
    validators: dict[str, dict[str, str]]


def _text(value: Any, where: str, field: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise FeedRefused(f"{where}: {field} is not a text of at most {limit} characters")
    if any(ord(ch) < 32 for ch in value):
        raise FeedRefused(f"{where}: {field} has control characters")
    return value.strip()


def _instant(value: Any, where: str, field: str) -> datetime:
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        raise FeedRefused(f"{where}: {field} is not a timestamp with an offset")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _web_url(value: Any, where: str, field: str, limit: int = 1000) -> str:
    url = _text(value, where, field, limit)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FeedRefused(f"{where}: {field} is not a web address")
    return url


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _validators(answer: Any) -> dict[str, str]:
    kept = {"etag": answer.etag, "last_modified": answer.last_modified}
    return {k: v for k, v in kept.items() if isinstance(v, str) and len(v) <= 200}


def _manifest(body: bytes, url: str) -> list[tuple[str, str]]:
    """The (type, URL) of the files the manifest lists that a client reads."""
    try:
        manifest = json.loads(body)
    except ValueError:
        raise FeedRefused(f"{url}: the manifest is not JSON") from None
    output = manifest.get("output") if isinstance(manifest, dict) else None
    if not isinstance(output, list) or len(output) > MAX_FILES:
        raise FeedRefused(f"{url}: output is not a list of at most {MAX_FILES} files")
    files = []
    for n, entry in enumerate(output):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind not in KINDS:
            continue  # the spec: clients ignore output types they do not know
        file_url = _web_url(entry.get("url"), f"{url} output[{n}]", "url")
        if _origin(file_url) != _origin(url):
            raise FeedRefused(f"{url} output[{n}]: {file_url[:200]} is on another site")
        files.append((kind, file_url))
    return files


def _lines(body: bytes, url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise FeedRefused(f"{url}: not UTF-8") from None
    # Split on newlines only: JSON may carry U+2028 and its kin unescaped inside strings.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except ValueError:
            raise FeedRefused(f"{url} line {n}: not JSON") from None
        if not isinstance(resource, dict):
            raise FeedRefused(f"{url} line {n}: not a JSON object")
        yield f"{url} line {n}", resource


def _list(resource: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """The objects of a list field (an absent or malformed one: none)."""
    value = resource.get(field)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _position(value: Any, where: str) -> tuple[float, float] | None:
    """Latitude and longitude, if the Location gives both as numbers on the globe."""
    if not isinstance(value, dict):
        return None
    lat, lon = value.get("latitude"), value.get("longitude")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        return None
    latitude, longitude = float(lat), float(lon)  # type: ignore[arg-type]
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise FeedRefused(f"{where}: position is off the globe")
    return latitude, longitude


def _location(resource: dict[str, Any], where: str) -> FeedLocation:
    address = resource.get("address")
    if not isinstance(address, dict):
        raise FeedRefused(f"{where}: no address")
    lines = address.get("line")
    if not isinstance(lines, list) or not lines:
        raise FeedRefused(f"{where}: address.line is not a list")
    contact = {t.get("system"): t.get("value") for t in _list(resource, "telecom")}
    position = _position(resource.get("position"), where)
    pins = [i.get("value") for i in _list(resource, "identifier") if i.get("system") == VTRCKS]
    district = address.get("district")
    return FeedLocation(
        source_id=resource["id"],
        name=_text(resource.get("name"), where, "name"),
        address_line=_text(", ".join(str(x) for x in lines), where, "address.line"),
        city=_text(address.get("city"), where, "address.city", 100),
        state=_text(address.get("state"), where, "address.state", 2).upper(),
        postal_code=_text(address.get("postalCode"), where, "address.postalCode", 10),
        district=_text(district, where, "address.district", 100) if district else None,
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
        phone=_text(contact["phone"], where, "phone", 40) if contact.get("phone") else None,
        url=_web_url(contact["url"], where, "url", 500) if contact.get("url") else None,
        vtrcks_pin=_text(pins[0], where, "VTrckS PIN", 40) if pins else None,
    )


def _extensions(resource: dict[str, Any], where: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    extensions = resource.get("extension", [])
    if not isinstance(extensions, list):
        raise FeedRefused(f"{where}: extension is not a list")
    for extension in extensions:
        url = extension.get("url") if isinstance(extension, dict) else None
        name = EXTENSIONS.get(url) if isinstance(url, str) else None
        if name is not None and name not in found:
            found[name] = next((v for k, v in extension.items() if k.startswith("value")), None)
    return found


def _schedule(
    resource: dict[str, Any], where: str, locations: set[str]
) -> tuple[str, str | None, str | None]:
    """The Schedule's Location id, FairSlot service and CVX code."""
    actor = resource.get("actor")
    reference = (
        actor[0].get("reference")
        if isinstance(actor, list) and actor and isinstance(actor[0], dict)
        else None
    )
    location = reference.removeprefix("Location/") if isinstance(reference, str) else None
    if location not in locations or not str(reference).startswith("Location/"):
        raise FeedRefused(f"{where}: actor is not a Location of this feed")
    product = _extensions(resource, where).get("product")
    cvx = product.get("code") if isinstance(product, dict) else None
    cvx = cvx if isinstance(cvx, str) and cvx.isdigit() and len(cvx) <= 3 else None
    codings = [
        (c.get("system"), c.get("code"))
        for concept in resource.get("serviceType") or []
        if isinstance(concept, dict)
        for c in concept.get("coding") or []
        if isinstance(c, dict)
    ]
    service = _SERVICE_OF_CVX.get(cvx or "") or ("covid19" if COVID19 in codings else None)
    return location, service, cvx


def _slot(
    resource: dict[str, Any], where: str, schedules: dict[str, tuple[str, str | None, str | None]]
) -> FeedSlot | None:
    """A valid Slot as kept if free; None if busy (only free places are shown)."""
    held = resource.get("schedule")
    reference = held.get("reference") if isinstance(held, dict) else None
    schedule = None
    if isinstance(reference, str) and reference.startswith("Schedule/"):
        schedule = schedules.get(reference.removeprefix("Schedule/"))
    if schedule is None:
        raise FeedRefused(f"{where}: schedule is not a Schedule of this feed")
    status = resource.get("status")
    if status not in ("free", "busy"):
        raise FeedRefused(f"{where}: status is not free or busy")
    start = _instant(resource.get("start"), where, "start")
    end = _instant(resource.get("end"), where, "end")
    if end <= start:
        raise FeedRefused(f"{where}: ends before it starts")
    found = _extensions(resource, where)
    capacity = found.get("capacity", 1)
    if type(capacity) is not int or not 1 <= capacity <= _MAX_CAPACITY:
        raise FeedRefused(f"{where}: slot-capacity is not a whole number from 1 to 10000")
    link = found.get("link")
    link = _web_url(link, where, "booking-deep-link") if link is not None else None
    phone = found.get("phone")
    phone = _text(phone, where, "booking-phone", 40) if phone is not None else None
    if status != "free":
        return None
    location, service, cvx = schedule
    return FeedSlot(location, service, cvx, start, end, capacity, link, phone)


def _snapshot(
    parsed: dict[str, list[tuple[str, dict[str, Any]]]], now: datetime, horizon_days: int
) -> Snapshot:
    locations: dict[str, FeedLocation] = {}
    for where, resource in parsed["Location"]:
        if resource["id"] in locations:
            raise FeedRefused(f"{where}: Location {resource['id']} repeats")
        locations[resource["id"]] = _location(resource, where)
    schedules: dict[str, tuple[str, str | None, str | None]] = {}
    for where, resource in parsed["Schedule"]:
        if resource["id"] in schedules:
            raise FeedRefused(f"{where}: Schedule {resource['id']} repeats")
        schedules[resource["id"]] = _schedule(resource, where, set(locations))
    until = now + timedelta(days=horizon_days)
    slots = []
    for where, resource in parsed["Slot"]:
        slot = _slot(resource, where, schedules)
        if slot is not None and now < slot.starts_at < until:
            slots.append(slot)
    return Snapshot(list(locations.values()), slots)


def read_feed(
    url: str,
    *,
    validators: dict[str, dict[str, str]],
    budget: Budget,
    now: datetime,
    horizon_days: int,
) -> Reading:
    """Fetch and validate a feed; ``validators`` are those of its last accepted fetch.

    The manifest is asked for conditionally; when it has not changed, neither have the files
    if each of them answers 304 too, and nothing is read. Otherwise everything is read again.
    """
    first = get(url, budget, validators.get(url))
    if first.status == 304:
        files = [file_url for file_url in validators if file_url != url]
        if all(get(file_url, budget, validators[file_url]).status == 304 for file_url in files):
            return Reading(None, validators)
        first = get(url, budget)
    if first.status != 200:
        raise FeedRefused(f"{url}: HTTP {first.status}")
    kept = {url: _validators(first)}
    parsed: dict[str, list[tuple[str, dict[str, Any]]]] = {kind: [] for kind in KINDS}
    for kind, file_url in _manifest(first.body, url):
        answer = get(file_url, budget)
        if answer.status != 200:
            raise FeedRefused(f"{file_url}: HTTP {answer.status}")
        kept[file_url] = _validators(answer)
        for where, resource in _lines(answer.body, file_url):
            if resource.get("resourceType") != kind:
                raise FeedRefused(f"{where}: a {str(resource.get('resourceType'))[:40]} line")
            if not isinstance(resource.get("id"), str) or not _ID.fullmatch(resource["id"]):
                raise FeedRefused(f"{where}: id is not 1 to 64 letters, digits, - or .")
            parsed[kind].append((where, resource))
    return Reading(_snapshot(parsed, now, horizon_days), kept)
