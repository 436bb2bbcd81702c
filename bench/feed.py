"""The open data feed at scale: rebuild time, and bytes served plain and gzipped.

``python -m bench.feed [--slots 100000 1000000]`` starts the bench's own PostgreSQL and Redis
(bench.stack), adds 1,000 clinics across Massachusetts and the slots, a third of them half
booked (so their places are published as a free and a busy Slot), builds the app in this process
and fetches the feed with Flask's test client. For each size it prints the first build (empty
cache: read, serialize, compress, store), a rebuild that finds nothing changed (read and
serialize again; nothing compressed or written), a rebuild after one booking (one file and its
manifests compressed and written again), and the bytes of every published file plain and gzipped.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench import data
from bench.stack import Stack, in_process_stack, make_workdir, remove_workdir, start_migrated

PAGE = "/$bulk-publish"


def timed_get(client: Any, path: str, **headers: str) -> tuple[float, Any]:
    """Wall seconds of one GET, and its answer."""
    start = time.perf_counter()
    answer = client.get(path, headers=headers)
    return time.perf_counter() - start, answer


def measure(stack: Stack, redis: Any, client: Any, slots: int) -> dict[str, Any]:
    """One size: load it, then time the builds and weigh the files."""
    stack.psql("DELETE FROM slot")
    days, per_day = data.scale_layout(slots)
    total = data.add_slots(stack, prefix="feed", days=days, per_day=per_day, capacity=6)
    stack.psql("UPDATE slot SET booked = 3 WHERE id % 3 = 0")
    for key in redis.scan_iter("{fairslot:opendata}*"):
        redis.delete(key)
    config = client.application.config
    config["OPENDATA_REFRESH_SECONDS"] = 0  # every request rebuilds
    first, manifest = timed_get(client, PAGE)
    again, _ = timed_get(client, PAGE)
    stack.psql("UPDATE slot SET booked = booked + 1 WHERE id = (SELECT min(id) FROM slot)")
    changed, _ = timed_get(client, PAGE)
    config["OPENDATA_REFRESH_SECONDS"] = 3600  # weighing the files rebuilds nothing
    plain = packed = 0
    for entry in manifest.get_json()["output"]:
        path = entry["url"].split("28001", 1)[1]
        plain += len(client.get(path).get_data())
        packed += len(client.get(path, headers={"Accept-Encoding": "gzip"}).get_data())
    return {
        "slots": total,
        "first_s": round(first, 1),
        "unchanged_s": round(again, 1),
        "one_change_s": round(changed, 1),
        "plain_mb": round(plain / 1e6, 1),
        "gzip_mb": round(packed / 1e6, 2),
        "ratio": round(plain / packed, 1),
        "redis_mb": round(int(redis.info("memory")["used_memory"]) / 2**20),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each size and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slots", type=int, nargs="+", default=[100_000])
    parser.add_argument("--port-offset", type=int, default=0)
    args = parser.parse_args(argv)
    import redis as redis_lib

    workdir = make_workdir()
    stack = in_process_stack(workdir, args.port_offset)
    try:
        start_migrated(stack)
        data.add_clinics(stack, 1000, spread_deg=1.5, prefix="feed")
        os.environ.update(stack.env())
        from booking.app import create_app

        client = create_app().test_client()
        redis = redis_lib.Redis.from_url(stack.redis_url)
        columns = ("slots", "first_s", "unchanged_s", "one_change_s", "plain_mb", "gzip_mb")
        print("".join(f"{c:>14}" for c in (*columns, "ratio", "redis_mb")), flush=True)
        for size in args.slots:
            row = measure(stack, redis, client, size)
            print("".join(f"{row[c]:>14}" for c in (*columns, "ratio", "redis_mb")), flush=True)
    finally:
        stack.stop()
        remove_workdir(workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
