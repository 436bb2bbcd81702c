"""GET /$bulk-publish (COVID-19), /<service>/$bulk-publish, their NDJSON files, and the
availability summary, with HTTP caching and gzip.

``_since`` on a manifest is ignored, as the spec allows: every answer is the full data set. The
files are whole snapshots (a Slot file holds every current slot of its state), and a file that
merely changed since a moment would not say which of its slots were deleted.
"""

from __future__ import annotations

import contextlib
import json
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from flask import Flask, Response, abort, current_app, g, request, session
from redis.exceptions import RedisError

from booking.clock import now
from booking.db import db
from booking.models.vaccines import SERVICE_CODES
from booking.opendata import bp
from booking.opendata.publish import feed_of, publication_builds
from booking.opendata.store import Build, Document, Publisher, direct, gzip_etag
from booking.redis_client import get_redis
from booking.services.text import N_
from booking.web.problems import problem

NDJSON = "application/fhir+ndjson"
REFERRALS = "{fairslot:referrals}"


class NotBuiltYet(Exception):
    """Workers rebuild the documents and have not stored this publication yet."""


def _build(publication: str) -> Build:
    builds = publication_builds(db.session, now=now(), feed=feed_of(current_app.config))
    return builds[publication]()


def _document(publication: str, key: str) -> Document | None:
    """The document as this client takes it: gzipped if its Accept-Encoding allows."""
    gzipped = request.accept_encodings["gzip"] > 0
    try:
        publisher = Publisher(get_redis(), current_app.config["OPENDATA_REFRESH_SECONDS"])
        if not publisher.workers_rebuild():
            publisher.refresh(publication, now(), lambda: _build(publication))
        names = publisher.names(publication)
        if not names:
            raise NotBuiltYet(publication)
        if key not in names:
            return None  # e.g. yesterday's slot file, gone since
        return publisher.get(key, gzipped=gzipped)
    except RedisError:
        return direct(_build(publication), key, now(), gzipped=gzipped)


def _not_built_yet() -> Response:
    """503 with Retry-After: the workers' next rebuild stores it."""
    seconds = str(current_app.config["HOUSEKEEPING_SECONDS"])
    return problem(
        503,
        N_("Not published yet"),
        N_("The open data is being prepared. Please try again shortly."),
        headers={"Retry-After": seconds, "Access-Control-Allow-Origin": "*"},
    )


def _respond(document: Document, mimetype: str) -> Response:
    """The document, gzipped if the client takes gzip, or 304 if the client's copy is current.

    The two encodings are two representations, each with its own strong ETag; ``Vary`` tells
    caches that the answer depends on ``Accept-Encoding``.
    """
    etag = gzip_etag(document.etag) if document.gzipped else document.etag
    headers = {
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": f"public, max-age={current_app.config['OPENDATA_MAX_AGE']}",
        "Access-Control-Allow-Origin": "*",
    }
    if document.last_modified is not None:
        headers["Last-Modified"] = format_datetime(document.last_modified, usegmt=True)
    if _not_modified(etag, document):
        # The type of what it stands for, so hooks that vary HTML pages leave it alone.
        return Response(status=304, headers=headers, mimetype=mimetype)
    if document.gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(document.content, mimetype=mimetype, headers=headers)


def _not_modified(etag: str, document: Document) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:  # it takes precedence over If-Modified-Since (RFC 9110)
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("If-Modified-Since")
    if since and document.last_modified is not None:
        try:
            return document.last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


@bp.get("/$bulk-publish")
@bp.get("/<service>/$bulk-publish")
def bulk_publish(service: str | None = None) -> Any:
    """The SMART Scheduling Links manifest: COVID-19's, or one service's."""
    if service is not None and service not in SERVICE_CODES:
        abort(404)
    key = "manifest" if service is None else f"manifest:{service}"
    try:
        document = _document("bulk", key)
    except NotBuiltYet:
        return _not_built_yet()
    assert document is not None
    return _respond(document, "application/json")


@bp.get("/opendata/<name>")
def bulk_file(name: str) -> Any:
    """One NDJSON file of Locations, Schedules or Slots."""
    if len(name) > 40 or not name.endswith(".ndjson"):
        abort(404)
    try:
        document = _document("bulk", f"file:{name}")
    except NotBuiltYet:
        return _not_built_yet()
    if document is None:
        abort(404)
    return _respond(document, NDJSON)


@bp.get("/api/v1/availability")
def availability_summary() -> Any:
    """Per clinic, free appointments by day (cached like the bulk files)."""
    try:
        document = _document("summary", "summary")
    except NotBuiltYet:
        return _not_built_yet()
    assert document is not None
    return _respond(document, "application/json")


def init_app(app: Flask) -> None:
    """Record where deep-linked visitors came from, and which of them booked."""

    @app.before_request
    def _referral() -> None:
        if request.endpoint != "resident.clinic":
            return
        source = (request.args.get("source") or "")[:100]
        referral = (request.args.get("booking-referral") or "")[:100]
        if not source and not referral:
            return
        session["referral"] = {"source": source, "booking_referral": referral}
        g.referral = session["referral"]
        with contextlib.suppress(RedisError):  # reporting is best effort; booking must go on
            get_redis().hincrby(f"{REFERRALS}:visits", source or "(none)", 1)

    @app.after_request
    def _referral_booked(response: Response) -> Response:
        if request.endpoint != "resident.confirmation":
            return response  # and do not touch the session (it would add Vary: Cookie)
        referral = session.get("referral")
        confirmed = session.get("confirmed")
        first_view = confirmed and session.get("referral_counted") != confirmed["id"]
        if referral and confirmed and first_view:
            session["referral_counted"] = confirmed["id"]
            with contextlib.suppress(RedisError):
                redis = get_redis()
                redis.hincrby(f"{REFERRALS}:bookings", referral["source"] or "(none)", 1)
                redis.rpush(
                    f"{REFERRALS}:booked",
                    json.dumps({**referral, "reservation_id": confirmed["id"]}),
                )
        return response
