"""Search time at two slot-table sizes, in process: the daily counts against the slot scan.

Run from a tree's root (``python -m bench.search_counts URL``) against a scratch PostgreSQL
database it empties: the tree's migrations build the schema, bench.data's SQL fills 1,000
clinics across Massachusetts (the scale layout of bench/scale.py), and each size is timed as
``search_clinics`` calls around ZIP 02115 (10 miles), with no HTTP in between. With the
counts (migration 0017) each call alternates with one answered by the slot scan search used
before them (``_scan_free``, the same statement), on the same data at the same moment.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench import data
from bench.stats import percentile
from booking.db import make_engine
from booking.migrate import upgrade
from booking.models import Slot
from booking.services import inventory
from booking.services.inventory import search_clinics
from booking.services.slot_counts import online_free

LATITUDE, LONGITUDE = 42.3427, -71.0922  # ZIP 02115


class _Sql:
    """What bench.data asks of the stack (``psql``), on a plain connection."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url, pool_size=2)

    def psql(self, sql: str) -> str:
        # Straight to psycopg without parameters, so LIKE 'x-%' needs no escaping, as in psql.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            cursor = c.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
            rows = cursor.fetchall() if cursor.description else []
        return "\n".join(" ".join(str(v) for v in row) for row in rows)


def _fold(sql: _Sql) -> None:
    try:
        from booking.services import day_counts
    except ImportError:  # a tree without the counts
        return
    with sql.engine.begin() as connection, Session(bind=connection) as session:
        day_counts.fold(session)
        session.commit()


def _scan_free(
    session: Session,
    clinics: list[tuple[int, str]],
    *,
    now: datetime,
    day: Any,
    horizon_days: int,
    service: str | None = None,
    product_id: int | None = None,
) -> dict[int, tuple[int, datetime | None]]:
    """The search's sums as the slot scan did them (the whole horizon, no day or filter)."""
    rows = session.execute(
        select(Slot.clinic_id, func.sum(online_free(now)), func.min(Slot.starts_at))
        .where(
            Slot.clinic_id.in_([c for c, _ in clinics]),
            Slot.is_open.is_(True),
            Slot.starts_at > now,
            online_free(now) > 0,
            Slot.starts_at < now + timedelta(days=horizon_days),
        )
        .group_by(Slot.clinic_id)
    ).all()
    found = {clinic_id: (int(total), first) for clinic_id, total, first in rows}
    return {clinic_id: found.get(clinic_id, (0, None)) for clinic_id, _ in clinics}


def _timed(session: Session, now: datetime) -> tuple[float, Any]:
    t0 = time.perf_counter()
    found = search_clinics(
        session, latitude=LATITUDE, longitude=LONGITUDE, radius_miles=10, now=now
    )
    ms = (time.perf_counter() - t0) * 1000
    session.rollback()
    return ms, found


def run(url: str, sizes: list[int], samples: int) -> list[dict[str, Any]]:
    """Time the search at each size (p50/p95 ms over ``samples`` calls)."""
    sql = _Sql(url)
    sql.psql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    upgrade(url)
    sql.psql("SELECT setseed(0.21)")
    data.add_clinics(sql, 1000, spread_deg=1.5, prefix="scale")  # type: ignore[arg-type]
    rows = []
    for target in sizes:
        sql.psql("DELETE FROM slot")
        days, per_day = data.scale_layout(target)
        t0 = time.monotonic()
        count = data.add_slots(sql, prefix="scale", days=days, per_day=per_day, capacity=5)  # type: ignore[arg-type]
        load_s = time.monotonic() - t0
        _fold(sql)
        sql.psql("VACUUM ANALYZE")
        now = datetime.now(UTC)
        counts, scans = [], []
        with sql.engine.connect() as connection:
            session = Session(bind=connection)
            for _ in range(samples):
                ms, found = _timed(session, now)
                counts.append(ms)
                if hasattr(inventory, "clinics_free"):
                    counted = inventory.clinics_free
                    inventory.clinics_free = _scan_free  # type: ignore[assignment]
                    try:
                        ms, scanned = _timed(session, now)
                    finally:
                        inventory.clinics_free = counted
                    scans.append(ms)
                    assert [(r.available_slots, r.next_available) for r in scanned] == [
                        (r.available_slots, r.next_available) for r in found
                    ]
        rows.append(
            {
                "slots": count,
                "per_clinic": days * per_day,
                "load_s": round(load_s, 1),
                "clinics_found": len(found),
                "free_found": sum(r.available_slots for r in found),
                "search_p50_ms": _ms(counts, 50),
                "search_p95_ms": _ms(counts, 95),
                "scan_p50_ms": _ms(scans, 50),
                "scan_p95_ms": _ms(scans, 95),
            }
        )
    sql.engine.dispose()
    return rows


def _ms(values: list[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else round(value, 2)


def main() -> None:
    """Print one JSON line of figures for this tree."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    print(json.dumps(run(args.url, sizes, args.samples)))


if __name__ == "__main__":
    main()
