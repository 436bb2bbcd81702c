"""State admins: other providers' SMART Scheduling Links feeds (the provider finder's sources)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import ProviderFeed, Role
from booking.services import provider_feeds
from booking.services.errors import InvalidInput, NotFound
from booking.web.access import audit, staff_route


def _page(values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    return render_template(
        "admin/provider_feeds.html",
        feeds=provider_feeds.list_feeds(db.session),
        values=values,
        errors=errors,
        every_minutes=max(1, current_app.config["PROVIDER_FEED_SECONDS"] // 60),
    ), status


@bp.get("/provider-feeds")
@staff_route(Role.STATE_ADMIN)
def provider_feeds_view() -> Any:
    """Every registered feed, how its last fetch went, and the form to add one."""
    return _page({}, {})


@bp.post("/provider-feeds")
@staff_route(Role.STATE_ADMIN)
def provider_feed_add() -> Any:
    """Register a provider's manifest."""
    values = {k: request.form.get(k, "") for k in ("name", "manifest_url")}

    def work(s: Any) -> ProviderFeed:
        feed = provider_feeds.register_feed(s, values, now=now())
        audit("provider_feed.create", record_type="provider_feed", record_id=feed.id)
        return feed

    try:
        db.transaction(work)
    except InvalidInput as exc:
        return _page(values, exc.errors, 422)
    return redirect(url_for("admin.provider_feeds_view"), code=303)


@bp.post("/provider-feeds/<int(max=2147483647):feed_id>")
@staff_route(Role.STATE_ADMIN)
def provider_feed_update(feed_id: int) -> Any:
    """Stop fetching a feed (its copy leaves the finder) or resume it."""
    action = request.form.get("action")
    if action not in ("deactivate", "activate"):
        abort(400)

    def work(s: Any) -> None:
        provider_feeds.set_feed_active(s, feed_id, action == "activate")
        audit(f"provider_feed.{action}", record_type="provider_feed", record_id=feed_id)

    try:
        db.transaction(work)
    except NotFound:
        abort(404)
    return redirect(url_for("admin.provider_feeds_view"), code=303)
