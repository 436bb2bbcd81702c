"""The SMART Scheduling Links spec's MUSTs and SHOULDs, one check each, over a captured feed.

Read off the spec's specification.md (Slot Publisher API): each check names the sentence it
holds the feed to and returns the breaches it finds (none: the feed conforms). They read a
``Capture`` (tests/opendata/test_conformance.py makes it from the demo data over HTTP), so each
can be shown to fail on a feed broken on purpose. A few checks are FairSlot's own promises on
top of the spec (marked so). What a program cannot check is left out: that a name "SHOULD
include consumer-relevant branding", and the clients' duties (poll at most once a minute,
ignore output types they do not know).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from tests.opendata.smart_conformance import INSTANT, STATE

REGISTRY = "http://fhir-registry.smarthealthit.org"
VTRCKS = "https://cdc.gov/vaccines/programs/vtrcks"
HL7_SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
SMART_SERVICE_TYPE = f"{REGISTRY}/CodeSystem/service-type"
CVX = "http://hl7.org/fhir/sid/cvx"
PRODUCT = f"{REGISTRY}/StructureDefinition/vaccine-product"
DOSE = f"{REGISTRY}/StructureDefinition/vaccine-dose"
HAS_AVAILABILITY = f"{REGISTRY}/StructureDefinition/has-availability"
SLOT_EXTENSIONS = {
    f"{REGISTRY}/StructureDefinition/booking-deep-link": "valueUrl",
    f"{REGISTRY}/StructureDefinition/booking-phone": "valueString",
    f"{REGISTRY}/StructureDefinition/slot-capacity": "valueInteger",
}
KINDS = ("Location", "Schedule", "Slot")
ABSOLUTE_URL = re.compile(r"https?://[^\s/]+[^\s]*")


@dataclass(frozen=True)
class Fetched:
    """One HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @cached_property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    @cached_property
    def lines(self) -> list[str]:
        """The body's lines (NDJSON)."""
        return self.body.decode().split("\n")[:-1] if self.body.endswith(b"\n") else ["?"]

    @cached_property
    def resources(self) -> list[dict[str, Any]]:
        """Each line as a JSON object."""
        return [json.loads(line) for line in self.lines if line.strip()]


@dataclass(frozen=True)
class Visit:
    """A free Slot's deep link, followed with ``source`` and ``booking-referral`` appended."""

    status: int
    offers_slot: bool
    referral: Mapping[str, str] | None


@dataclass(frozen=True)
class Capture:
    """Everything the checks read, fetched once."""

    manifests: Mapping[str, Fetched]  # manifest URL -> plain GET
    files: Mapping[str, Fetched]  # file URL -> plain GET
    variants: Mapping[tuple[str, str], Fetched]  # (URL, variant) -> GET with other headers
    zones: Mapping[str, str]  # Location id -> its time zone
    online: Mapping[str, int]  # FairSlot slot id -> places bookable online now
    visits: Mapping[str, Visit]  # Slot id -> its deep link followed


Check = Callable[[Capture], list[str]]
CHECKS: dict[str, tuple[str, Check]] = {}


def check(name: str, requirement: str) -> Callable[[Check], Check]:
    """Register a check under ``name`` with the sentence of the spec it enforces."""

    def register(function: Check) -> Check:
        CHECKS[name] = (requirement, function)
        return function

    return register


def outputs(capture: Capture) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every manifest's output entries, with the manifest's URL."""
    for url, manifest in capture.manifests.items():
        for entry in manifest.json.get("output", []):
            yield url, entry


def resources(capture: Capture, manifest: str, kind: str) -> list[dict[str, Any]]:
    """The resources of one type in the files one manifest lists."""
    found: list[dict[str, Any]] = []
    for entry in capture.manifests[manifest].json.get("output", []):
        if entry.get("type") == kind and entry.get("url") in capture.files:
            found += capture.files[entry["url"]].resources
    return found


def each(capture: Capture, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every resource of a type in every manifest, with the manifest's URL."""
    for manifest in capture.manifests:
        for resource in resources(capture, manifest, kind):
            yield manifest, resource


def slot_locations(capture: Capture, manifest: str) -> dict[str, str]:
    """The Location id of each Schedule id in a manifest."""
    return {
        r.get("id", ""): ((r.get("actor") or [{}])[0].get("reference") or "").removeprefix(
            "Location/"
        )
        for r in resources(capture, manifest, "Schedule")
    }


def schedule_of(slot: dict[str, Any]) -> str:
    """A Slot's Schedule id."""
    return str((slot.get("schedule") or {}).get("reference", "")).removeprefix("Schedule/")


def instant(value: Any) -> datetime | None:
    """A spec timestamp (to the second at least, with an offset), or None."""
    if not isinstance(value, str) or not INSTANT.fullmatch(value):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """A resource's extensions with this URL."""
    return [
        e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url
    ]


def text(value: Any) -> bool:
    """A non-empty string."""
    return isinstance(value, str) and value.strip() != ""


# --- The manifest and how it is served ----------------------------------------------------


@check("manifest-url", "The manifest is always hosted at a URL that ends with `$bulk-publish`.")
def manifest_url(capture: Capture) -> list[str]:
    """Each manifest's URL."""
    return [
        f"{url}: not a $bulk-publish URL"
        for url in capture.manifests
        if not url.endswith("$bulk-publish")
    ]


@check(
    "manifest-fields",
    "Manifest: `transactionTime` a timestamp, `request` the full URL of the manifest, `output` "
    "an array of objects each with a `type` (Location, Schedule or Slot) and the full `url` of "
    "an NDJSON file; `error` an empty array.",
)
def manifest_fields(capture: Capture) -> list[str]:
    """The manifest's own fields."""
    problems = []
    for url, fetched in capture.manifests.items():
        manifest = fetched.json
        if instant(manifest.get("transactionTime")) is None:
            problems.append(f"{url}: transactionTime is not a timestamp")
        if manifest.get("request") != url:
            problems.append(f"{url}: request {manifest.get('request')!r} is not its full URL")
        if manifest.get("error") != []:
            problems.append(f"{url}: error is not an empty array")
        if not isinstance(manifest.get("output"), list):
            problems.append(f"{url}: output is not an array")
    for url, entry in outputs(capture):
        if entry.get("type") not in KINDS:
            problems.append(f"{url}: output type {entry.get('type')!r}")
        if not isinstance(entry.get("url"), str) or not ABSOLUTE_URL.fullmatch(entry["url"]):
            problems.append(f"{url}: output url {entry.get('url')!r} is not a full URL")
    return problems


@check(
    "files-ndjson",
    "Each output is an NDJSON file of its type: each line a minified JSON object.",
)
def files_ndjson(capture: Capture) -> list[str]:
    """Every listed file answers, as NDJSON of minified objects of the output's type."""
    problems = []
    for _, entry in outputs(capture):
        fetched = capture.files.get(entry.get("url", ""))
        if fetched is None or fetched.status != 200:
            problems.append(f"{entry.get('url')}: does not answer 200")
            continue
        if fetched.headers.get("content-type", "").split(";")[0] != "application/fhir+ndjson":
            problems.append(f"{entry['url']}: Content-Type {fetched.headers.get('content-type')}")
        for n, line in enumerate(fetched.lines):
            try:
                resource = json.loads(line)
            except ValueError:
                problems.append(f"{entry['url']} line {n + 1}: not JSON")
                continue
            compact = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
            if not isinstance(resource, dict) or line != compact:
                problems.append(f"{entry['url']} line {n + 1}: not one minified JSON object")
            elif resource.get("resourceType") != entry["type"]:
                problems.append(f"{entry['url']} line {n + 1}: a {resource.get('resourceType')}")
    return problems


@check(
    "accept-headers",
    "Servers SHALL return the same payload for a manifest with no `Accept` header and with "
    "`Accept: application/json`, and for a file with none and `application/fhir+ndjson`.",
)
def accept_headers(capture: Capture) -> list[str]:
    """The Accept variants give the same answer."""
    problems = []
    pairs = [(url, "accept-json", f) for url, f in capture.manifests.items()]
    pairs += [(url, "accept-ndjson", f) for url, f in capture.files.items()]
    for url, variant, plain in pairs:
        other = capture.variants.get((url, variant))
        if other is None or other.status != 200 or other.body != plain.body:
            problems.append(f"{url}: {variant} does not give the same payload")
    return problems


@check(
    "state-hints",
    "Slot Publishers SHOULD annotate each output with a list of states or jurisdictions "
    '(`extension.state`, e.g. `["MA"]`), a hint to clients about the data it holds.',
)
def state_hints(capture: Capture) -> list[str]:
    """Every output names its states, and holds nothing from another state."""
    problems = []
    for manifest, entry in outputs(capture):
        states = (entry.get("extension") or {}).get("state")
        if (
            not isinstance(states, list)
            or not states
            or not all(isinstance(s, str) and STATE.fullmatch(s) for s in states)
        ):
            problems.append(f"{entry.get('url')}: extension.state is not a list of state codes")
            continue
        held = _states_held(capture, manifest, entry)
        if not held <= set(states):
            problems.append(f"{entry['url']}: holds {sorted(held - set(states))} not in {states}")
    return problems


def _states_held(capture: Capture, manifest: str, entry: dict[str, Any]) -> set[str]:
    location_state = {
        r.get("id"): (r.get("address") or {}).get("state")
        for r in resources(capture, manifest, "Location")
    }
    schedule_location = slot_locations(capture, manifest)
    held = set()
    for resource in capture.files[entry["url"]].resources if entry["url"] in capture.files else []:
        if entry["type"] == "Location":
            location = resource.get("id")
        elif entry["type"] == "Schedule":
            location = schedule_location.get(resource.get("id"))
        else:
            location = schedule_location.get(schedule_of(resource))
        held.add(location_state.get(location) or "?")
    return held


@check(
    "cache-control",
    "Slot Publishers SHOULD include a `Cache-Control: max-age=<seconds>` header as a hint to "
    "clients about how long to wait before polling next.",
)
def cache_control(capture: Capture) -> list[str]:
    """Every answer says how long to wait."""
    return [
        f"{url}: no Cache-Control max-age"
        for url, fetched in [*capture.manifests.items(), *capture.files.items()]
        if not re.search(r"(^|[,\s])max-age=\d+", fetched.headers.get("cache-control", ""))
    ]


@check(
    "conditional-requests",
    "Clients MAY include `If-None-Match` or `If-Modified-Since` to avoid retrieving data when "
    "nothing has changed: both answer 304 while nothing has.",
)
def conditional_requests(capture: Capture) -> list[str]:
    """The ETag and the date each give 304 on an unchanged document."""
    problems = []
    for url in [*capture.manifests, *capture.files]:
        for variant in ("if-none-match", "if-modified-since"):
            answer = capture.variants.get((url, variant))
            if answer is None or answer.status != 304:
                problems.append(f"{url}: {variant} does not answer 304")
    return problems


@check(
    "since-parameter",
    "Clients MAY send `?_since=` with a manifest request; servers are free to ignore it, so the "
    "answer is a full data set.",
)
def since_parameter(capture: Capture) -> list[str]:
    """A manifest asked with `_since` is the full manifest."""
    problems = []
    for url, plain in capture.manifests.items():
        answer = capture.variants.get((url, "_since"))
        if answer is None or answer.status != 200 or answer.body != plain.body:
            problems.append(f"{url}: `_since` does not give the full data set")
    return problems


@check(
    "open-access",
    "Slot Publishers SHOULD host `$bulk-publish` content at open, publicly accessible "
    "endpoints (no access keys or client credentials).",
)
def open_access(capture: Capture) -> list[str]:
    """Everything answers a client with no credentials."""
    return [
        f"{url}: {fetched.status} without credentials"
        for url, fetched in [*capture.manifests.items(), *capture.files.items()]
        if fetched.status != 200 or "www-authenticate" in fetched.headers
    ]
