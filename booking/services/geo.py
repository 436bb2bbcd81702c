"""ZIP codes' centroids and counties (offline, from the ``zipcodes`` package) and great-circle
distances."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

EARTH_RADIUS_MILES = 3958.8
_lock = threading.Lock()
_index: dict[str, ZipPlace] | None = None


@dataclass(frozen=True)
class ZipPlace:
    """A ZIP code's centroid and its place name."""

    zip_code: str
    city: str
    state: str
    latitude: float
    longitude: float
    county: str | None = None


def _load() -> dict[str, ZipPlace]:
    # The package parses a bundled JSON file of ~42,000 ZIPs; do it once per process, lazily.
    global _index
    with _lock:
        if _index is None:
            import zipcodes

            _index = {
                row["zip_code"]: ZipPlace(
                    row["zip_code"],
                    row["city"],
                    row["state"],
                    float(row["lat"]),
                    float(row["long"]),
                    row.get("county") or None,
                )
                for row in zipcodes.list_all()  # type: ignore[no-untyped-call]
                if row.get("lat") and row.get("long")
            }
        return _index


def lookup_zip(zip_code: str) -> ZipPlace | None:
    """Return the centroid of a 5-digit ZIP code, or None if it is unknown."""
    return _load().get(zip_code)


def county_of(zip_code: str) -> str | None:
    """The county a ZIP code lies in, as the spec's examples name it ("Suffolk"), or None.

    The package names it in full ("Suffolk County"); other kinds of county keep their word
    ("Orleans Parish", "Juneau City and Borough").
    """
    place = lookup_zip(zip_code[:5])
    if place is None or not place.county:
        return None
    return place.county.removesuffix(" County")


def distance_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_miles: float) -> tuple[float, float, float, float]:
    """Return (min_lat, max_lat, min_lon, max_lon) enclosing the circle, for an index scan."""
    dlat = math.degrees(radius_miles / EARTH_RADIUS_MILES)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = math.degrees(radius_miles / (EARTH_RADIUS_MILES * cos_lat))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


# FairSlot books appointments in one state; a place elsewhere is answered as such.
SERVICE_STATE = "MA"
_town_lock = threading.Lock()
_towns: dict[str, ZipPlace] | None = None


def _town_key(name: str) -> str:
    """A place name as compared: case, accents of spacing and "St."/"Saint" do not matter."""
    words = " ".join(name.casefold().replace(".", " ").replace("-", " ").split())
    return words.replace("saint ", "st ").replace("mount ", "mt ")


def _load_towns() -> dict[str, ZipPlace]:
    """Each town, city and Boston neighbourhood in the ZIP data, at the centre of its ZIPs."""
    global _towns
    with _town_lock:
        if _towns is None:
            groups: dict[str, list[ZipPlace]] = {}
            names: dict[str, str] = {}
            for place in _load().values():
                if place.state == SERVICE_STATE:
                    key = _town_key(place.city)
                    groups.setdefault(key, []).append(place)
                    names.setdefault(key, place.city)
            _towns = {
                key: ZipPlace(
                    min(p.zip_code for p in found),
                    names[key],
                    SERVICE_STATE,
                    sum(p.latitude for p in found) / len(found),
                    sum(p.longitude for p in found) / len(found),
                )
                for key, found in groups.items()
            }
        return _towns


def lookup_town(name: str) -> ZipPlace | None:
    """A town, city or neighbourhood of the service state by name ("Worcester", "Dorchester")."""
    return _load_towns().get(_town_key(name))


def suggest_towns(name: str, limit: int = 3) -> list[str]:
    """The state's place names closest to a misspelt one ("Worchester" -> "Worcester")."""
    import difflib

    towns = _load_towns()
    close = difflib.get_close_matches(_town_key(name), list(towns), n=limit, cutoff=0.75)
    return [towns[key].city for key in close]
