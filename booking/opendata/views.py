"""GET /$bulk-publish (COVID-19), /<service>/$bulk-publish, their NDJSON files, and the
availability summary, with HTTP caching."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from flask import Flask, Response, abort, current_app, g, request, session
from redis.exceptions import RedisError

from booking.clock import now
from booking.db import db
from booking.models.vaccines import SERVICE_CODES
from booking.opendata import bp
from booking.opendata.publish import (
    DEFAULT_SERVICE,
    Document,
    File,
    Publisher,
    build_files,
    build_summary,
    direct,
)
from booking.redis_client import get_redis

NDJSON = "application/fhir+ndjson"
REFERRALS = "{fairslot:referrals}"


def _publisher() -> Publisher:
    return Publisher(get_redis(), current_app.config["OPENDATA_REFRESH_SECONDS"])


def _base_url() -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/")


def _manifest(moment: datetime, request_url: str, files: dict[str, File], service: str) -> bytes:
    output = []
    for name, file in files.items():
        if file.service != service:
            continue
        entry: dict[str, Any] = {"type": file.kind, "url": f"{_base_url()}/opendata/{name}"}
        if file.state:
            entry["extension"] = {"state": [file.state]}  # slot files split per state
        output.append(entry)
    manifest = {
        "transactionTime": moment.isoformat(timespec="seconds"),
        "request": request_url,
        "output": output,
        "error": [],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def _bulk_documents() -> dict[str, bytes]:
    """Every service's manifest and files, built in one pass over the slots.

    /$bulk-publish is COVID-19's manifest: the 2021 spec's clients read every Immunization
    Schedule there as a COVID-19 one. Each service also has its own, /<service>/$bulk-publish.
    """
    moment = now()
    files = build_files(
        db.session,
        now=moment,
        base_url=_base_url(),
        phone=current_app.config["HELPLINE_PHONE"],
        horizon_days=current_app.config["BOOKING_DAYS"],
    )
    documents = {f"file:{name}": file.body for name, file in files.items()}
    documents["manifest"] = _manifest(
        moment, f"{_base_url()}/$bulk-publish", files, DEFAULT_SERVICE
    )
    for service in SERVICE_CODES:
        url = f"{_base_url()}/{service}/$bulk-publish"
        documents[f"manifest:{service}"] = _manifest(moment, url, files, service)
    return documents


def _summary_documents() -> dict[str, bytes]:
    body = build_summary(db.session, now=now(), horizon_days=current_app.config["BOOKING_DAYS"])
    return {"summary": body}


def _document(publication: str, key: str, build: Any) -> Document | None:
    try:
        publisher = _publisher()
        publisher.refresh(publication, now(), build)
        if key not in publisher.names(publication):
            return None  # e.g. a state's slot file from an earlier build, now gone
        return publisher.get(key)
    except RedisError:
        body = build().get(key)
        return direct(body, now()) if body is not None else None


def _respond(document: Document, mimetype: str) -> Response:
    headers = {
        "ETag": document.etag,
        "Last-Modified": format_datetime(document.last_modified, usegmt=True),
        "Cache-Control": f"public, max-age={current_app.config['OPENDATA_MAX_AGE']}",
        "Access-Control-Allow-Origin": "*",
    }
    if _not_modified(document):
        return Response(status=304, headers=headers)
    return Response(document.body, mimetype=mimetype, headers=headers)


def _not_modified(document: Document) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or document.etag in tags
    since = request.headers.get("If-Modified-Since")
    if since:
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
    document = _document("bulk", key, _bulk_documents)
    assert document is not None
    return _respond(document, "application/json")


@bp.get("/opendata/<name>")
def bulk_file(name: str) -> Any:
    """One NDJSON file of Locations, Schedules or Slots."""
    if len(name) > 40 or not name.endswith(".ndjson"):
        abort(404)
    document = _document("bulk", f"file:{name}", _bulk_documents)
    if document is None:
        abort(404)
    return _respond(document, NDJSON)


@bp.get("/api/v1/availability")
def availability_summary() -> Any:
    """Per clinic, free appointments by day (cached like the bulk files)."""
    document = _document("summary", "summary", _summary_documents)
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
