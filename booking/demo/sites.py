"""Real Massachusetts vaccination sites of 2021, for the demo seed (public addresses)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class DemoSite:
    """One site: where it is, who runs it, and the hours and capacity it offered."""

    key: str  # stable slug, e.g. "gillette-stadium"; the seeder uses it to stay idempotent
    name: str
    kind: str  # "mass" | "regional" | "health_center" | "pharmacy"
    line: str  # street address
    city: str
    state: str  # "MA"
    postal_code: str
    latitude: float
    longitude: float
    phone: str
    vtrcks_pin: str
    services: tuple[str, ...]  # subset of ("covid19", "flu", "rsv")
    # keys of booking.services.products.CATALOGUE, one slot per product at each time
    products: tuple[str, ...]
    weekdays: tuple[int, ...]  # 0 = Monday ... 6 = Sunday, days it is open
    opens: time
    closes: time
    slot_minutes: int  # 10, 15 or 20
    # people per slot per service: mass 20-60, regional 10-20, health centers 2-4, pharmacies 1-2
    capacity: int


# Mass and regional sites were booked online or through 2-1-1 (their vendors' hotlines are
# gone), so their phone is Mass 2-1-1's full line.
MASS_211 = "(877) 211-6277"
_EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
_MON_FRI = (0, 1, 2, 3, 4)
_MON_SAT = (0, 1, 2, 3, 4, 5)
_TUE_SAT = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class _Profile:
    """What every site of one kind offers unless its row says otherwise."""

    services: tuple[str, ...]
    products: tuple[str, ...]
    weekdays: tuple[int, ...]
    opens: time
    closes: time
    slot_minutes: int


# Mass sites ran both mRNA vaccines side by side; regional sites one; pharmacies what their
# chain was shipped, with flu shots; health centres a mix, with RSV for their older patients.
_MASS = ("pfizer-covid19", "moderna-covid19")
_REGIONAL = ("moderna-covid19",)
_HEALTH_CENTER = ("moderna-covid19", "fluzone-flu", "arexvy-rsv")
_PHARMACY = ("pfizer-covid19", "moderna-covid19", "janssen-covid19", "fluzone-high-dose-flu")

_PROFILES: dict[str, _Profile] = {
    "mass": _Profile(("covid19",), _MASS, _EVERY_DAY, time(8, 0), time(20, 0), 15),
    "regional": _Profile(("covid19",), _REGIONAL, _MON_FRI, time(9, 0), time(17, 0), 15),
    "health_center": _Profile(
        ("covid19", "flu", "rsv"), _HEALTH_CENTER, _MON_FRI, time(9, 0), time(17, 0), 15
    ),
    "pharmacy": _Profile(("covid19", "flu"), _PHARMACY, _EVERY_DAY, time(9, 0), time(19, 0), 10),
}


def _site(
    kind: str,
    *,
    key: str,
    name: str,
    line: str,
    city: str,
    postal_code: str,
    latitude: float,
    longitude: float,
    capacity: int,
    phone: str | None = None,
    weekdays: tuple[int, ...] | None = None,
    opens: time | None = None,
    closes: time | None = None,
) -> DemoSite:
    """One row of the table, with the kind's services, days, hours and slot length filled in."""
    profile = _PROFILES[kind]
    if phone is None:
        if kind not in ("mass", "regional"):
            raise ValueError(f"demo site {key} needs a phone")
        phone = MASS_211
    return DemoSite(
        key=key,
        name=name,
        kind=kind,
        line=line,
        city=city,
        state="MA",
        postal_code=postal_code,
        latitude=latitude,
        longitude=longitude,
        phone=phone,
        vtrcks_pin=demo_pin(key),
        services=profile.services,
        products=profile.products,
        weekdays=profile.weekdays if weekdays is None else weekdays,
        opens=profile.opens if opens is None else opens,
        closes=profile.closes if closes is None else closes,
        slot_minutes=profile.slot_minutes,
        capacity=capacity,
    )


def demo_pin(key: str) -> str:
    """A VTrckS PIN for a demo site, plainly not a real one ("DEMO" and a hash of its key)."""
    return "DEMO" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()


# Pharmacy store numbers are not given here: those rows carry fictional 555-01xx numbers.
SITES: tuple[DemoSite, ...] = (
    # The state's mass vaccination sites (Fenway Park ran from February to March 2021).
    _site(
        "mass",
        key="gillette-stadium",
        name="Gillette Stadium",
        line="1 Patriot Place",
        city="Foxborough",
        postal_code="02035",
        latitude=42.0909,
        longitude=-71.2643,
        capacity=60,
    ),
    _site(
        "mass",
        key="fenway-park",
        name="Fenway Park",
        line="4 Jersey Street",
        city="Boston",
        postal_code="02215",
        latitude=42.3467,
        longitude=-71.0972,
        capacity=40,
    ),
    _site(
        "mass",
        key="hynes-convention-center",
        name="Hynes Convention Center",
        line="900 Boylston Street",
        city="Boston",
        postal_code="02115",
        latitude=42.3478,
        longitude=-71.0872,
        capacity=50,
    ),
    _site(
        "mass",
        key="reggie-lewis-center",
        name="Reggie Lewis Track and Athletic Center",
        line="1350 Tremont Street",
        city="Boston",
        postal_code="02120",
        latitude=42.3318,
        longitude=-71.0946,
        capacity=40,
    ),
    _site(
        "mass",
        key="doubletree-danvers",
        name="DoubleTree by Hilton Boston North Shore",
        line="50 Ferncroft Road",
        city="Danvers",
        postal_code="01923",
        latitude=42.5886,
        longitude=-71.0005,
        capacity=50,
    ),
    _site(
        "mass",
        key="eastfield-mall",
        name="Eastfield Mall (former Macy's)",
        line="1655 Boston Road",
        city="Springfield",
        postal_code="01129",
        latitude=42.1280,
        longitude=-72.4905,
        capacity=45,
    ),
    _site(
        "mass",
        key="natick-mall",
        name="Natick Mall (former Sears)",
        line="1245 Worcester Street",
        city="Natick",
        postal_code="01760",
        latitude=42.3006,
        longitude=-71.3840,
        capacity=50,
    ),
    _site(
        "mass",
        key="dartmouth-circuit-city",
        name="Former Circuit City, Dartmouth Towne Center",
        line="456 State Road",
        city="North Dartmouth",
        postal_code="02747",
        latitude=41.6373,
        longitude=-71.0060,
        capacity=35,
    ),
    # Regional collaborative sites.
    _site(
        "regional",
        key="worcester-state-wellness-center",
        name="Worcester State University Wellness Center",
        line="486 Chandler Street",
        city="Worcester",
        postal_code="01602",
        latitude=42.2690,
        longitude=-71.8440,
        capacity=20,
        weekdays=_TUE_SAT,
        closes=time(17, 30),
    ),
    _site(
        "regional",
        key="marshfield-fairgrounds",
        name="Marshfield Fairgrounds",
        line="140 Main Street",
        city="Marshfield",
        postal_code="02050",
        latitude=42.0987,
        longitude=-70.7173,
        capacity=10,
        opens=time(9, 45),
        closes=time(16, 15),
    ),
    _site(
        "regional",
        key="bridgewater-state-kelly-gym",
        name="Bridgewater State University, Kelly Gymnasium",
        line="45 Park Avenue",
        city="Bridgewater",
        postal_code="02324",
        latitude=41.9868,
        longitude=-70.9705,
        capacity=20,
        closes=time(15, 0),
    ),
    # Community health centers.
    _site(
        "health_center",
        key="east-boston-nhc",
        name="East Boston Neighborhood Health Center",
        line="10 Gove Street",
        city="East Boston",
        postal_code="02128",
        latitude=42.3697,
        longitude=-71.0355,
        capacity=4,
        phone="(617) 569-5800",
        weekdays=_MON_SAT,
    ),
    _site(
        "health_center",
        key="codman-square-hc",
        name="Codman Square Health Center",
        line="637 Washington Street",
        city="Dorchester",
        postal_code="02124",
        latitude=42.2897,
        longitude=-71.0715,
        capacity=3,
        phone="(617) 825-9660",
        weekdays=_MON_SAT,
    ),
    _site(
        "health_center",
        key="lynn-chc",
        name="Lynn Community Health Center",
        line="269 Union Street",
        city="Lynn",
        postal_code="01901",
        latitude=42.4663,
        longitude=-70.9455,
        capacity=4,
        phone="(781) 581-3900",
    ),
    _site(
        "health_center",
        key="greater-lawrence-fhc",
        name="Greater Lawrence Family Health Center",
        line="34 Haverhill Street",
        city="Lawrence",
        postal_code="01841",
        latitude=42.7125,
        longitude=-71.1640,
        capacity=4,
        phone="(978) 686-0090",
    ),
    _site(
        "health_center",
        key="holyoke-hc",
        name="Holyoke Health Center",
        line="230 Maple Street",
        city="Holyoke",
        postal_code="01040",
        latitude=42.2045,
        longitude=-72.6090,
        capacity=3,
        phone="(413) 420-2200",
    ),
    _site(
        "health_center",
        key="brockton-nhc",
        name="Brockton Neighborhood Health Center",
        line="63 Main Street",
        city="Brockton",
        postal_code="02301",
        latitude=42.0848,
        longitude=-71.0190,
        capacity=3,
        phone="(508) 559-6699",
        weekdays=_MON_SAT,
    ),
    _site(
        "health_center",
        key="family-hc-worcester",
        name="Family Health Center of Worcester",
        line="26 Queen Street",
        city="Worcester",
        postal_code="01610",
        latitude=42.2567,
        longitude=-71.8153,
        capacity=3,
        phone="(508) 860-7700",
    ),
    _site(
        "health_center",
        key="fenway-health",
        name="Fenway Health",
        line="1340 Boylston Street",
        city="Boston",
        postal_code="02215",
        latitude=42.3449,
        longitude=-71.0993,
        capacity=2,
        phone="(617) 267-0900",
    ),
    _site(
        "health_center",
        key="outer-cape-harwich-port",
        name="Outer Cape Health Services, Harwich Port",
        line="710 Route 28",
        city="Harwich Port",
        postal_code="02646",
        latitude=41.6710,
        longitude=-70.0605,
        capacity=2,
        phone="(508) 905-2888",
    ),
    # Retail pharmacies of the federal pharmacy program.
    _site(
        "pharmacy",
        key="cvs-cambridge-porter-square",
        phone="(617) 555-0141",
        name="CVS Pharmacy, Porter Square",
        line="36 White Street",
        city="Cambridge",
        postal_code="02140",
        latitude=42.3897,
        longitude=-71.1185,
        capacity=2,
    ),
    _site(
        "pharmacy",
        key="cvs-northampton-king-street",
        phone="(413) 555-0142",
        name="CVS Pharmacy, King Street",
        line="366 King Street",
        city="Northampton",
        postal_code="01060",
        latitude=42.3322,
        longitude=-72.6391,
        capacity=1,
    ),
    _site(
        "pharmacy",
        key="cvs-wellesley-linden-street",
        phone="(781) 555-0143",
        name="CVS Pharmacy, Linden Street",
        line="188 Linden Street",
        city="Wellesley",
        postal_code="02482",
        latitude=42.2957,
        longitude=-71.2854,
        capacity=1,
    ),
    _site(
        "pharmacy",
        key="walgreens-fairhaven",
        phone="(508) 555-0144",
        name="Walgreens, Huttleston Avenue",
        line="220 Huttleston Avenue",
        city="Fairhaven",
        postal_code="02719",
        latitude=41.6400,
        longitude=-70.8985,
        capacity=1,
    ),
)
