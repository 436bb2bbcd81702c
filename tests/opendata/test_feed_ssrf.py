"""The provider-feed fetcher in production reaches the public internet only: a feed address
(or a name that resolves) pointing into the state's own network is refused before a byte is
sent, checked on the address the socket connects to."""

from __future__ import annotations

import socket

import pytest

from booking.db import db
from booking.jobs.providers import fetch_provider_feed
from booking.models import ProviderFeed
from booking.services import feed_http, provider_feeds
from booking.services.feed_http import Budget, FeedRefused
from tests.opendata.feed_server import FeedServer, pharmacy_feed


@pytest.fixture
def server():
    running = FeedServer()
    yield running
    running.close()


def public_budget() -> Budget:
    return Budget(seconds=5.0, max_bytes=1_000_000, public_only=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # a cloud's instance metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # loopback dressed as IPv6
        ("::ffff:10.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
    ],
)
def test_which_addresses_are_public(address, public):
    assert feed_http._public_address(address) is public


def test_a_loopback_feed_is_refused_without_a_request(server, clock):
    pharmacy_feed(server, clock())
    with pytest.raises(FeedRefused, match="not a public internet address"):
        feed_http.get(server.url("/chain/$bulk-publish"), public_budget())
    assert server.requests == []


def test_a_name_that_resolves_to_loopback_is_refused(server, clock):
    pharmacy_feed(server, clock())
    port = server.server.server_address[1]
    with pytest.raises(FeedRefused, match="localhost is not a public"):
        feed_http.get(f"http://localhost:{port}/chain/$bulk-publish", public_budget())
    with pytest.raises(FeedRefused, match="not a public"):
        feed_http.get(f"https://localhost:{port}/chain/$bulk-publish", public_budget())
    assert server.requests == []


def test_one_private_address_among_a_names_addresses_refuses_it(server, clock, monkeypatch):
    port = server.server.server_address[1]
    answers = [("8.8.8.8", port), ("127.0.0.1", port)]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", sa) for sa in answers],
    )
    with pytest.raises(FeedRefused, match="not a public"):
        feed_http.get(f"http://feeds.example.org:{port}/x", public_budget())
    assert server.requests == []


def test_the_socket_connects_to_the_address_that_was_checked(server, clock, monkeypatch):
    """A name is resolved once and the checked address is the one connected to: treating
    127.0.0.1 as public here, the request for the name reaches the local server."""
    pharmacy_feed(server, clock())
    port = server.server.server_address[1]
    resolved = []

    def resolve(host, *args, **kwargs):
        resolved.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(feed_http, "_public_address", lambda address: address == "127.0.0.1")
    answer = feed_http.get(f"http://feeds.example.org:{port}/chain/$bulk-publish", public_budget())
    assert answer.status == 200
    assert resolved == ["feeds.example.org"]
    assert [path for path, _ in server.requests] == ["/chain/$bulk-publish"]


@pytest.mark.parametrize(("private_network", "outcome"), [(False, "refused"), (True, "accepted")])
def test_production_fetches_public_feeds_only(app, server, clock, private_network, outcome):
    pharmacy_feed(server, clock())
    app.config.update(
        PROVIDER_FEED_TIMEOUT_SECONDS=5.0,
        PROVIDER_FEED_MAX_MB=1.0,
        FAIRSLOT_ENV="production",
        PRIVATE_NETWORK=private_network,
    )
    with app.app_context():
        feed = provider_feeds.register_feed(
            db.session,
            {"name": "Example Pharmacy", "manifest_url": server.url("/chain/$bulk-publish")},
            now=clock(),
        )
        db.session.commit()
        feed_id = feed.id
        assert fetch_provider_feed(feed_id) == outcome
        problem = db.session.get(ProviderFeed, feed_id).problem
    if outcome == "refused":
        assert "not a public internet address" in problem
        assert server.requests == []
