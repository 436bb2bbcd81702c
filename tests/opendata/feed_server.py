"""A provider's feed on 127.0.0.1, started by the test: valid, broken, huge, slow or hostile.

Each path serves a ``Route``: its body, status and headers, an ETag it answers 304 to, gzip
when asked (or always), a drip (one byte at a time, with a pause), or no answer at all.
Every request is recorded with its headers, so tests see the conditional requests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REGISTRY = "http://fhir-registry.smarthealthit.org"


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    gzip: str = "when-asked"  # "when-asked", "never" or "always"
    drip_seconds: float | None = None  # pause between single bytes of the body
    hang_seconds: float | None = None  # wait this long before answering at all


class FeedServer:
    """A threaded HTTP server whose routes the test sets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def do_GET(self) -> None:
                owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                owner.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Serve the route of the request's path."""
        route = self.routes.get(handler.path.split("?")[0])
        if route is None:
            handler.send_error(404)
            return
        if route.hang_seconds:
            time.sleep(route.hang_seconds)
        if route.etag and handler.headers.get("If-None-Match") == route.etag:
            handler.send_response(304)
            handler.send_header("ETag", route.etag)
            handler.end_headers()
            return
        body = route.body
        packed = route.gzip == "always" or (
            route.gzip == "when-asked" and "gzip" in handler.headers.get("Accept-Encoding", "")
        )
        handler.send_response(route.status)
        if packed:
            body = gzip.compress(body)
            handler.send_header("Content-Encoding", "gzip")
        if route.etag:
            handler.send_header("ETag", route.etag)
        for name, value in route.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            if route.drip_seconds is None:
                handler.wfile.write(body)
                return
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(route.drip_seconds)
        except OSError:
            return  # the reader gave up

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def ndjson(resources: list[dict[str, Any]]) -> bytes:
    """Resources as NDJSON."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in resources)


def pharmacy_feed(server: FeedServer, now: datetime, prefix: str = "/chain") -> dict[str, Any]:
    """A chain's feed in the spec's shape: two stores, COVID-19 and flu, free and busy slots.

    Written for these tests; routes are set on ``server`` and the resources returned, so a test
    can break one and serve it again with ``serve``.
    """
    locations = [
        {
            "resourceType": "Location",
            "id": f"store-{n}",
            "identifier": [
                {"system": "https://cdc.gov/vaccines/programs/vtrcks", "value": f"CV00{n}"},
                {"system": "https://pharmacy.example.com/store-locator", "value": str(n)},
            ],
            "name": f"Example Pharmacy #{n}",
            "telecom": [
                {"system": "phone", "value": f"617-555-01{n:02d}"},
                {"system": "url", "value": f"https://pharmacy.example.com/stores/{n}"},
            ],
            "address": {
                "line": [f"{n} Main Street"],
                "city": "Cambridge",
                "state": "MA",
                "postalCode": "02139",
                "district": "Middlesex",
            },
            "position": {"latitude": 42.36 + n / 100, "longitude": -71.10},
        }
        for n in (1, 2)
    ]
    covid = [
        {"system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "57"},
        {"system": f"{REGISTRY}/CodeSystem/service-type", "code": "covid19-immunization"},
    ]
    schedules = [
        {
            "resourceType": "Schedule",
            "id": f"sched-{n}-{cvx}",
            "actor": [{"reference": f"Location/store-{n}"}],
            "serviceType": [{"coding": covid if cvx == "207" else covid[:1]}],
            "extension": [
                {
                    "url": f"{REGISTRY}/StructureDefinition/vaccine-product",
                    "valueCoding": {
                        "system": "http://hl7.org/fhir/sid/cvx",
                        "code": cvx,
                        "display": "Moderna" if cvx == "207" else "Influenza",
                    },
                }
            ],
        }
        for n in (1, 2)
        for cvx in ("207", "150")
    ]
    slots = []
    for hours, status, capacity in (
        (2, "free", 3),
        (3, "busy", 2),
        (-2, "free", 1),
        (24 * 30, "free", 1),
    ):
        start = now + timedelta(hours=hours)
        slots.append(
            {
                "resourceType": "Slot",
                "id": f"slot-{hours}-{status}",
                "schedule": {"reference": "Schedule/sched-1-207"},
                "status": status,
                "start": start.isoformat(timespec="seconds"),
                "end": (start + timedelta(minutes=15)).isoformat(timespec="seconds"),
                "extension": [
                    {
                        "url": f"{REGISTRY}/StructureDefinition/booking-deep-link",
                        "valueUrl": f"https://pharmacy.example.com/book?slot={hours}",
                    },
                    {
                        "url": f"{REGISTRY}/StructureDefinition/booking-phone",
                        "valueString": "617-555-0100",
                    },
                    {
                        "url": f"{REGISTRY}/StructureDefinition/slot-capacity",
                        "valueInteger": capacity,
                    },
                ],
            }
        )
    start = now + timedelta(hours=5)
    slots.append(
        {
            "resourceType": "Slot",
            "id": "flu-5",
            "schedule": {"reference": "Schedule/sched-2-150"},
            "status": "free",
            "start": start.isoformat(timespec="seconds"),
            "end": (start + timedelta(minutes=10)).isoformat(timespec="seconds"),
        }
    )
    feed = {"locations": locations, "schedules": schedules, "slots": slots}
    serve(server, feed, prefix)
    return feed


def serve(server: FeedServer, feed: dict[str, Any], prefix: str = "/chain", **route: Any) -> None:
    """Serve a feed's manifest and files under ``prefix``; ``route`` applies to every file."""
    files = {"Location": "locations", "Schedule": "schedules", "Slot": "slots"}
    output = [
        {"type": kind, "url": server.url(f"{prefix}/{name}.ndjson")} for kind, name in files.items()
    ]
    manifest = {
        "transactionTime": "2021-04-01T00:00:00Z",
        "request": server.url(f"{prefix}/$bulk-publish"),
        "output": output,
        "error": [],
    }
    body = json.dumps(manifest).encode()
    server.routes[f"{prefix}/$bulk-publish"] = Route(body, etag=tag(body))
    for name in files.values():
        body = ndjson(feed[name])
        server.routes[f"{prefix}/{name}.ndjson"] = Route(body, etag=tag(body), **route)


def tag(body: bytes) -> str:
    """An ETag for a body."""
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
