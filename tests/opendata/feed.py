"""Reading the published feed as an aggregator does (shared by the open-data tests)."""

from __future__ import annotations

import json
from collections import defaultdict
from urllib.parse import urlsplit

from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FhirSlot

from booking.services.products import CATALOGUE

MODELS = {"Location": Location, "Schedule": Schedule, "Slot": FhirSlot}
ID_RULE = r"^[A-Za-z0-9\-\.]{1,64}$"
MANIFESTS = ("/$bulk-publish", "/covid19/$bulk-publish", "/flu/$bulk-publish", "/rsv/$bulk-publish")


def read(client, url):
    """GET a published URL on the test client; it must answer 200."""
    path = urlsplit(url).path
    response = client.get(path)
    assert response.status_code == 200, url
    return response


def feed(client, path="/$bulk-publish"):
    """A manifest, each of its files' resources by URL, and all its resources by type."""
    manifest = read(client, path).json
    files = {}
    resources = defaultdict(list)
    for entry in manifest["output"]:
        response = read(client, entry["url"])
        assert response.mimetype == "application/fhir+ndjson"
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
        files[entry["url"]] = lines
        resources[entry["type"]].extend(lines)
    return manifest, files, resources


def published(client, path="/$bulk-publish"):
    """A manifest and its resources by type."""
    manifest, _files, resources = feed(client, path)
    return manifest, resources


def everything(client):
    """Every service's resources together (what the default manifest alone no longer holds)."""
    merged = defaultdict(list)
    for path in MANIFESTS[1:]:
        for kind, items in published(client, path)[1].items():
            merged[kind].extend(items)
    return merged


def slot_ids(resources):
    """The FairSlot slot ids behind the published Slots."""
    return {int(r["id"].split(".")[0]) for r in resources["Slot"]}


def cvx_of(service):
    """The CVX codes of a service's catalogue products."""
    return {p.cvx_code for p in CATALOGUE if p.service == service}


def extension_values(resource, url):
    """The values of a resource's extensions with this URL, in order."""
    return [
        next(v for k, v in e.items() if k.startswith("value"))
        for e in resource.get("extension", [])
        if e["url"] == url
    ]
