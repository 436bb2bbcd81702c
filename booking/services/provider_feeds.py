"""Other providers' feeds: registering them, and keeping each one's last good copy.

The fetch itself (booking.services.feed_reader) runs outside any transaction; these functions
record what it gave, each in the caller's transaction: an accepted snapshot replaces the
feed's locations and slots at once; an unchanged feed is only dated; a refused one keeps its
copy and gets its problem recorded. One feed's outcome never touches another's rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from booking.models import FeedStatus, ProviderFeed, ProviderLocation, ProviderSlot
from booking.services.errors import InvalidInput, NotFound
from booking.services.feed_reader import FeedLocation, Snapshot
from booking.services.geo import lookup_zip
from booking.services.text import N_

MAX_PROBLEM = 500


def _stripped(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_feed_form(raw: dict[str, Any]) -> dict[str, str]:
    """The registration form: a name and the manifest's full URL, ending in $bulk-publish."""
    errors: dict[str, str] = {}
    name = _stripped(raw.get("name"))
    if not name or len(name) > 200 or any(ord(ch) < 32 for ch in name):
        errors["name"] = N_("Enter the provider's name (at most 200 plain characters).")
    url = _stripped(raw.get("manifest_url"))
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not parts.path.endswith("$bulk-publish")
        or len(url) > 500
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
    ):
        errors["manifest_url"] = N_(
            "Enter the full web address of the provider's manifest, ending in $bulk-publish."
        )
    if errors:
        raise InvalidInput(N_("Please correct the provider feed."), errors=errors)
    return {"name": name, "manifest_url": url}


def register_feed(session: Session, raw: dict[str, Any], *, now: datetime) -> ProviderFeed:
    """Add a provider's feed; the fetch job reads it on its next round."""
    values = parse_feed_form(raw)
    taken = session.scalar(
        select(ProviderFeed.id).where(ProviderFeed.manifest_url == values["manifest_url"])
    )
    if taken is not None:
        raise InvalidInput(
            N_("Please correct the provider feed."),
            errors={"manifest_url": N_("This manifest is registered already.")},
        )
    feed = ProviderFeed(
        **values, active=True, status=FeedStatus.NEW.value, created_at=now, validators={}
    )
    session.add(feed)
    session.flush()
    return feed


def set_feed_active(session: Session, feed_id: int, active: bool) -> ProviderFeed:
    """Stop or resume fetching a feed; a stopped feed's copy is removed from what is shown."""
    feed = session.get(ProviderFeed, feed_id)
    if feed is None:
        raise NotFound(N_("No provider feed with that id."))
    feed.active = active
    if not active:
        _clear(session, feed_id)
        feed.location_count = feed.slot_count = 0
        feed.validators = {}  # a resumed feed is read in full
    session.flush()
    return feed


def list_feeds(session: Session) -> list[ProviderFeed]:
    """Every registered feed, active first, by name."""
    return list(
        session.scalars(
            select(ProviderFeed).order_by(ProviderFeed.active.desc(), ProviderFeed.name)
        )
    )


def due_feeds(session: Session, *, now: datetime, every_seconds: int) -> list[int]:
    """Active feeds not checked within the period, oldest check first."""
    since = now - timedelta(seconds=every_seconds)
    rows = session.scalars(
        select(ProviderFeed.id)
        .where(
            ProviderFeed.active.is_(True),
            or_(ProviderFeed.checked_at.is_(None), ProviderFeed.checked_at <= since),
        )
        .order_by(ProviderFeed.checked_at.is_not(None), ProviderFeed.checked_at)
    )
    return list(rows)


def mark_checked(session: Session, feed_ids: list[int], *, now: datetime) -> None:
    """Date the feeds' check now (a fetch was scheduled), so they are not due again at once."""
    if feed_ids:
        session.execute(
            update(ProviderFeed).where(ProviderFeed.id.in_(feed_ids)).values(checked_at=now)
        )


def _clear(session: Session, feed_id: int) -> None:
    session.execute(delete(ProviderSlot).where(ProviderSlot.feed_id == feed_id))
    session.execute(delete(ProviderLocation).where(ProviderLocation.feed_id == feed_id))


def _feed(session: Session, feed_id: int) -> ProviderFeed | None:
    feed = session.get(ProviderFeed, feed_id, with_for_update=True)
    return feed if feed is not None and feed.active else None


def _placed(location: FeedLocation) -> dict[str, float]:
    """A location without a position is placed at its ZIP code's centre, so searches find it."""
    if location.latitude is not None and location.longitude is not None:
        return {}
    place = lookup_zip(location.postal_code[:5])
    return {"latitude": place.latitude, "longitude": place.longitude} if place else {}


def keep_snapshot(
    session: Session,
    feed_id: int,
    snapshot: Snapshot,
    validators: dict[str, dict[str, str]],
    *,
    now: datetime,
) -> None:
    """Replace a feed's copy with an accepted snapshot (nothing, if it was stopped meanwhile)."""
    feed = _feed(session, feed_id)
    if feed is None:
        return
    _clear(session, feed_id)
    if snapshot.locations:
        locations = [
            {**location.__dict__, **_placed(location), "feed_id": feed_id}
            for location in snapshot.locations
        ]
        session.execute(insert(ProviderLocation), locations)
    ids = {
        source_id: row_id
        for source_id, row_id in session.execute(
            select(ProviderLocation.source_id, ProviderLocation.id).where(
                ProviderLocation.feed_id == feed_id
            )
        )
    }
    rows = [
        {**slot.__dict__, "feed_id": feed_id, "location_id": ids[slot.location_id]}
        for slot in snapshot.slots
    ]
    if rows:
        session.execute(insert(ProviderSlot), rows)
    feed.status, feed.problem = FeedStatus.OK.value, None
    feed.checked_at = feed.fetched_at = feed.changed_at = now
    feed.validators = validators
    feed.location_count, feed.slot_count = len(snapshot.locations), len(rows)
    session.flush()


def keep_unchanged(session: Session, feed_id: int, *, now: datetime) -> None:
    """The feed has not changed since its accepted copy: the copy is current as of now."""
    feed = _feed(session, feed_id)
    if feed is not None:
        feed.status, feed.problem = FeedStatus.OK.value, None
        feed.checked_at = feed.fetched_at = now
        session.flush()


def keep_refusal(session: Session, feed_id: int, problem: str, *, now: datetime) -> None:
    """The fetch was refused: record why; the last accepted copy stays as it was."""
    feed = _feed(session, feed_id)
    if feed is not None:
        feed.status = FeedStatus.REFUSED.value
        feed.problem = problem[:MAX_PROBLEM]
        feed.checked_at = now
        session.flush()
