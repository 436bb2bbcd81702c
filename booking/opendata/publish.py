"""Building the published files once per interval and serving them from Redis.

Aggregators poll every few minutes; rebuilding NDJSON per request would put that load on the
database. Instead one process rebuilds when the copy in Redis is older than the refresh
interval (the others keep serving the current copy) and every response comes from Redis with a
strong ETag, so most polls end in 304 Not Modified.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Clinic, Slot, VaccineProduct
from booking.models.vaccines import SERVICE_CODES
from booking.opendata import fhir
from booking.services.slot_counts import online_free

log = logging.getLogger(__name__)
PREFIX = "{fairslot:opendata}"
LOCK_SECONDS = 60
# What the default manifest (/$bulk-publish) publishes: the 2021 spec reads it as COVID-19.
DEFAULT_SERVICE = "covid19"


@dataclass(frozen=True)
class Document:
    """One published body with its validators."""

    body: bytes
    etag: str
    last_modified: datetime


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in resources
    )


@dataclass(frozen=True)
class File:
    """One published NDJSON file: the service it belongs to, its resource type and state."""

    service: str
    kind: str
    state: str | None
    body: bytes


def file_prefix(service: str) -> str:
    """COVID-19's files keep their original names; the other services' carry the service."""
    return "" if service == DEFAULT_SERVICE else f"{service}-"


def build_files(
    session: Session, *, now: datetime, base_url: str, phone: str, horizon_days: int
) -> dict[str, File]:
    """Every file of every service's publication, by file name.

    A service's files hold only its own Schedules and Slots, and the Locations that offer it,
    so each manifest is complete on its own and no file mixes COVID-19 with another vaccine.
    """
    clinics = {c.id: c for c in session.scalars(select(Clinic).where(Clinic.active.is_(True)))}
    products = {p.id: p for p in session.scalars(select(VaccineProduct))}
    schedules: dict[str, dict[str, dict[str, Any]]] = {code: {} for code in SERVICE_CODES}
    offering: dict[str, set[int]] = {
        code: {c.id for c in clinics.values() if code in (c.services or [])}
        for code in SERVICE_CODES
    }
    by_state: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(
        select(Slot)
        .where(
            Slot.clinic_id.in_(list(clinics)),
            Slot.starts_at > now,
            Slot.starts_at < now + timedelta(days=horizon_days),
        )
        .order_by(Slot.starts_at, Slot.id)
        .execution_options(yield_per=5000)
    ).scalars()
    for slot in rows:
        clinic = clinics[slot.clinic_id]
        service_schedules = schedules.setdefault(slot.service, {})
        sid = fhir.schedule_id(clinic.id, slot.service, slot.product_id)
        if sid not in service_schedules:
            service_schedules[sid] = fhir.schedule(clinic, products[slot.product_id])
            offering.setdefault(slot.service, set()).add(clinic.id)
        by_state[slot.service, clinic.state].extend(
            fhir.slots(slot, clinic, now=now, base_url=base_url, phone=phone)
        )
    files: dict[str, File] = {}
    for service, service_schedules in schedules.items():
        prefix = file_prefix(service)
        locations = [fhir.location(clinics[i], base_url) for i in sorted(offering[service])]
        files[f"{prefix}locations.ndjson"] = File(service, "Location", None, _ndjson(locations))
        files[f"{prefix}schedules.ndjson"] = File(
            service, "Schedule", None, _ndjson(list(service_schedules.values()))
        )
    for (service, state), resources in sorted(by_state.items()):
        files[f"{file_prefix(service)}slots-{state}.ndjson"] = File(
            service, "Slot", state, _ndjson(resources)
        )
    return files


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


class Publisher:
    """Keeps the published documents in Redis, rebuilt at most once per refresh interval."""

    def __init__(self, redis: Any, refresh_seconds: int) -> None:
        self.redis = redis
        self.refresh_seconds = refresh_seconds

    def _stale(self, name: str, now: datetime) -> bool:
        built = self.redis.hget(f"{PREFIX}:meta:{name}", "built_at")
        return built is None or now.timestamp() - float(built) >= self.refresh_seconds

    def refresh(self, name: str, now: datetime, build: Callable[[], dict[str, bytes]]) -> None:
        """Rebuild ``name``'s documents if stale and no other process is doing it."""
        if not self._stale(name, now):
            return
        has_copy = self.redis.exists(f"{PREFIX}:meta:{name}")
        if not self.redis.set(f"{PREFIX}:lock:{name}", 1, nx=True, ex=LOCK_SECONDS) and has_copy:
            return  # someone else is rebuilding; serve the current copy meanwhile
        try:
            documents = build()
            pipe = self.redis.pipeline(transaction=True)
            for key, body in documents.items():
                pipe.hset(
                    f"{PREFIX}:doc:{key}",
                    mapping={
                        "body": body,
                        "etag": _etag(body),
                        "last_modified": now.astimezone(UTC).replace(microsecond=0).isoformat(),
                    },
                )
            pipe.hset(
                f"{PREFIX}:meta:{name}",
                mapping={
                    "built_at": now.timestamp(),
                    "documents": json.dumps(sorted(documents)),
                },
            )
            pipe.execute()
        finally:
            self.redis.delete(f"{PREFIX}:lock:{name}")

    def get(self, key: str) -> Document | None:
        """A stored document, or None."""
        raw = self.redis.hgetall(f"{PREFIX}:doc:{key}")
        if not raw:
            return None
        return Document(
            raw[b"body"],
            raw[b"etag"].decode(),
            datetime.fromisoformat(raw[b"last_modified"].decode()),
        )

    def names(self, name: str) -> list[str]:
        """The documents of a publication."""
        raw = self.redis.hget(f"{PREFIX}:meta:{name}", "documents")
        return json.loads(raw) if raw else []


def direct(body: bytes, now: datetime) -> Document:
    """A document built for this request only (Redis unavailable)."""
    log.warning("open data served uncached: Redis unavailable")
    return Document(body, _etag(body), now.astimezone(UTC).replace(microsecond=0))


__all__ = [
    "DEFAULT_SERVICE",
    "Document",
    "File",
    "Publisher",
    "RedisError",
    "build_files",
    "build_summary",
    "direct",
    "file_prefix",
]
