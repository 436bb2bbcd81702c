"""Search time at two slot-table sizes, in process, for the code tree it is run from.

Run from a tree's root (``python -m bench.search_counts URL``) against a scratch PostgreSQL
database it empties: the tree's migrations build the schema, bench.data's SQL fills 1,000
clinics across Massachusetts (the scale layout of bench/scale.py), and each size is timed as
``search_clinics`` calls around ZIP 02115 (10 miles), with no HTTP in between. Comparing two
trees means running it from each, one after the other, in one session (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench import data
from bench.stats import percentile
from booking.db import make_engine
from booking.migrate import upgrade
from booking.services.inventory import search_clinics

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
    with sql.engine.begin() as connection:
        from sqlalchemy.orm import Session

        with Session(bind=connection) as session:
            day_counts.fold(session)
            session.commit()


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
        timings = []
        with sql.engine.connect() as connection:
            from sqlalchemy.orm import Session

            session = Session(bind=connection)
            for _ in range(samples):
                t1 = time.perf_counter()
                found = search_clinics(
                    session, latitude=LATITUDE, longitude=LONGITUDE, radius_miles=10, now=now
                )
                timings.append((time.perf_counter() - t1) * 1000)
                session.rollback()
        rows.append(
            {
                "slots": count,
                "per_clinic": days * per_day,
                "load_s": round(load_s, 1),
                "clinics_found": len(found),
                "free_found": sum(r.available_slots for r in found),
                "search_p50_ms": round(percentile(timings, 50) or 0, 2),
                "search_p95_ms": round(percentile(timings, 95) or 0, 2),
            }
        )
    sql.engine.dispose()
    return rows


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
