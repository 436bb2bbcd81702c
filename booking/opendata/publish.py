"""Building the published files: every service's Locations, Schedules and Slots, and the
manifests that list them (store.py keeps them in Redis and dates them)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Clinic, Slot, VaccineProduct
from booking.models.vaccines import SERVICE_CODES
from booking.opendata import fhir
from booking.opendata.store import Build, Index
from booking.services.slot_counts import online_free

# What the default manifest (/$bulk-publish) publishes: the 2021 spec reads it as COVID-19.
DEFAULT_SERVICE = "covid19"


@dataclass(frozen=True)
class Feed:
    """Where the feed points and what it says beyond the database."""

    base_url: str
    booking_phone: str
    identifier_system: str
    horizon_days: int


def _line(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"".join(_line(r) for r in resources)


@dataclass(frozen=True)
class File:
    """One published NDJSON file: the service it belongs to, its resource type and states."""

    service: str
    kind: str
    states: tuple[str, ...]
    body: bytes


def file_prefix(service: str) -> str:
    """COVID-19's files keep their original names; the other services' carry the service."""
    return "" if service == DEFAULT_SERVICE else f"{service}-"


def build_files(session: Session, *, now: datetime, feed: Feed) -> dict[str, File]:
    """Every file of every service's publication, by file name.

    A service's files hold only its own Schedules and Slots, and the Locations that offer it,
    so each manifest is complete on its own and no file mixes COVID-19 with another vaccine.
    Slots are in one file per state and local day (``slots-MA-2026-03-02.ndjson``): a booking
    changes one day's file, so a rebuild compresses and stores that one and clients' copies of
    the others stay current (304); and no file grows past what Redis stores in one value
    (512 MB), which one state's file did at a million slots.
    """
    clinics = {c.id: c for c in session.scalars(select(Clinic).where(Clinic.active.is_(True)))}
    products = {p.id: p for p in session.scalars(select(VaccineProduct))}
    schedules: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
        code: {} for code in SERVICE_CODES
    }
    offering: dict[str, set[int]] = {
        code: {c.id for c in clinics.values() if code in (c.services or [])}
        for code in SERVICE_CODES
    }
    by_day: dict[tuple[str, str, str], list[bytes]] = defaultdict(list)
    rows = session.execute(
        select(Slot)
        .where(
            Slot.clinic_id.in_(list(clinics)),
            Slot.starts_at > now,
            Slot.starts_at < now + timedelta(days=feed.horizon_days),
        )
        .order_by(Slot.starts_at, Slot.id)
        .execution_options(yield_per=5000)
    ).scalars()
    for slot in rows:
        clinic, product = clinics[slot.clinic_id], products[slot.product_id]
        service_schedules = schedules.setdefault(slot.service, {})
        sid = fhir.schedule_id(clinic.id, slot.service, slot.product_id)
        if sid not in service_schedules:
            service_schedules[sid] = (clinic.state, fhir.schedule(clinic, product))
            offering.setdefault(slot.service, set()).add(clinic.id)
        day = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date().isoformat()
        by_day[slot.service, clinic.state, day].extend(
            _line(resource)
            for resource in fhir.slots(
                slot, clinic, product, now=now, base_url=feed.base_url, phone=feed.booking_phone
            )
        )
    files: dict[str, File] = {}
    for service, service_schedules in schedules.items():
        prefix = file_prefix(service)
        located = [clinics[i] for i in sorted(offering[service])]
        locations = [
            fhir.location(
                c,
                base_url=feed.base_url,
                identifier_system=feed.identifier_system,
                fallback_phone=feed.booking_phone,
            )
            for c in located
        ]
        # An empty file is not listed: every output names the states it covers.
        if locations:
            files[f"{prefix}locations.ndjson"] = File(
                service, "Location", _states(c.state for c in located), _ndjson(locations)
            )
        if service_schedules:
            files[f"{prefix}schedules.ndjson"] = File(
                service,
                "Schedule",
                _states(state for state, _ in service_schedules.values()),
                _ndjson([schedule for _, schedule in service_schedules.values()]),
            )
    for (service, state, day), lines in sorted(by_day.items()):
        files[f"{file_prefix(service)}slots-{state}-{day}.ndjson"] = File(
            service, "Slot", (state,), b"".join(lines)
        )
    return files


def _states(states: Any) -> tuple[str, ...]:
    return tuple(sorted(set(states)))


def manifest_index(files: dict[str, File], service: str, url: str, base_url: str) -> Index:
    """A service's manifest: its files, each with the states it covers (the spec's hint)."""
    names = [name for name, file in files.items() if file.service == service]
    output = [
        {
            "type": files[name].kind,
            "url": f"{base_url}/opendata/{name}",
            "extension": {"state": list(files[name].states)},
        }
        for name in names
    ]

    def render(changed: datetime) -> bytes:
        body = {
            # When this data set last changed: the manifest stays the same while its files do.
            "transactionTime": changed.astimezone(UTC).isoformat(timespec="seconds"),
            "request": url,
            "output": output,
            "error": [],
        }
        return json.dumps(body, separators=(",", ":")).encode()

    return Index(tuple(f"file:{name}" for name in names), render)


def bulk_build(session: Session, *, now: datetime, feed: Feed) -> Build:
    """Every service's files, and the manifests: COVID-19's at /$bulk-publish (the 2021 spec's
    clients read every Immunization Schedule there as a COVID-19 one) and each service's at
    /<service>/$bulk-publish."""
    files = build_files(session, now=now, feed=feed)
    base = feed.base_url
    indexes = {"manifest": manifest_index(files, DEFAULT_SERVICE, f"{base}/$bulk-publish", base)}
    for service in SERVICE_CODES:
        url = f"{base}/{service}/$bulk-publish"
        indexes[f"manifest:{service}"] = manifest_index(files, service, url, base)
    return Build({f"file:{name}": file.body for name, file in files.items()}, indexes)


def build_summary(session: Session, *, now: datetime, horizon_days: int) -> bytes:
    """Per clinic, free appointments by local day, in all and per service."""
    clinics = {c.id: c for c in session.scalars(select(Clinic).where(Clinic.active.is_(True)))}
    counts: dict[int, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for clinic_id, service, starts_at, free in session.execute(
        select(Slot.clinic_id, Slot.service, Slot.starts_at, online_free(now)).where(
            Slot.clinic_id.in_(list(clinics)),
            Slot.is_open.is_(True),
            Slot.starts_at > now,
            Slot.starts_at < now + timedelta(days=horizon_days),
        )
    ):
        day = starts_at.astimezone(ZoneInfo(clinics[clinic_id].timezone)).date().isoformat()
        counts[clinic_id][day][service] += max(0, int(free))
    body = {
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "clinics": [
            {
                "id": c.id,
                "name": c.name,
                "city": c.city,
                "postal_code": c.postal_code,
                "services": c.services,
                "days": [
                    {"date": d, "available": sum(n.values()), "by_service": dict(sorted(n.items()))}
                    for d, n in sorted(counts[c.id].items())
                ],
            }
            for c in sorted(clinics.values(), key=lambda c: c.name)
        ],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


__all__ = [
    "DEFAULT_SERVICE",
    "Feed",
    "File",
    "build_files",
    "build_summary",
    "bulk_build",
    "file_prefix",
    "manifest_index",
]


def feed_of(config: Mapping[str, Any]) -> Feed:
    """The feed's settings from the app's configuration."""
    return Feed(
        base_url=str(config["PUBLIC_URL"]).rstrip("/"),
        booking_phone=config["BOOKING_PHONE"],
        identifier_system=config["OPENDATA_IDENTIFIER_SYSTEM"],
        horizon_days=config["BOOKING_DAYS"],
    )


def publication_builds(
    session: Session, *, now: datetime, feed: Feed
) -> dict[str, Callable[[], Build]]:
    """Each publication's build, by name: the bulk files with their manifests, and the
    availability summary."""

    def summary() -> Build:
        return Build({"summary": build_summary(session, now=now, horizon_days=feed.horizon_days)})

    return {"bulk": lambda: bulk_build(session, now=now, feed=feed), "summary": summary}
