"""Bounded HTTP GETs for reading other providers' feeds: a time budget, a byte budget, gzip.

One ``Budget`` covers a whole feed (its manifest and every file): the feed is refused as soon
as it has taken longer than its time or sent more (decompressed) bytes than its size allows,
whether the server drips one byte a second, sends a gigabyte, or a few kilobytes of gzip that
inflate to one. Redirects are refused too: a manifest and its files are read where the admin
registered them, never where a server would send the fetcher.

A budget for the public internet (``public_only``) also refuses any host that resolves to a
loopback, private, link-local or otherwise non-public address, checked on the address the
socket connects to (not on the name), so a feed cannot point the fetcher at the state's own
network, nor a name that resolves to a public address once and to 127.0.0.1 the next time.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from typing import Any

USER_AGENT = "FairSlot provider finder (SMART Scheduling Links client)"
CHUNK = 64 * 1024
# The longest one socket operation may wait, however much of the budget is left.
READ_TIMEOUT = 10.0


class FeedRefused(Exception):
    """The feed cannot be accepted; the message says why (shown to admins)."""


@dataclass
class Budget:
    """What one feed's fetch may still take: seconds and bytes."""

    seconds: float
    max_bytes: int
    public_only: bool = False
    started: float = field(default_factory=time.monotonic)
    spent: int = 0

    def left(self) -> float:
        """Seconds left, or FeedRefused once there are none."""
        remaining = self.seconds - (time.monotonic() - self.started)
        if remaining <= 0:
            raise FeedRefused(f"the feed took longer than {self.seconds:g} s to read")
        return remaining

    def spend(self, count: int) -> None:
        """Count bytes read (decompressed), refusing past the limit."""
        self.spent += count
        if self.spent > self.max_bytes:
            raise FeedRefused(f"the feed is larger than {self.max_bytes / 1e6:g} MB")


@dataclass(frozen=True)
class Answer:
    """A GET's status, body and validators (304: no body)."""

    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        raise FeedRefused(f"{req.full_url}: redirected ({code}) to {newurl[:200]}")


def _public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _connect_public(
    address: tuple[str, int], timeout: Any = None, source_address: Any = None, **_: Any
) -> socket.socket:
    """socket.create_connection, to a public address only: every address the name resolves
    to is checked, and the socket connects to the checked address, never resolving again."""
    host, port = address
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FeedRefused(f"{host}: {error}") from None
    if not found or not all(_public_address(str(info[4][0])) for info in found):
        raise FeedRefused(f"{host} is not a public internet address")
    last: OSError | None = None
    for family, kind, proto, _name, sockaddr in found:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            sock.close()
            last = error
    raise last or OSError(f"{host}: no address to connect to")


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_PublicHTTPSConnection, req)


_OPENER = urllib.request.build_opener(_NoRedirects)
_PUBLIC_OPENER = urllib.request.build_opener(_NoRedirects, _PublicHTTPHandler, _PublicHTTPSHandler)


def get(url: str, budget: Budget, validators: dict[str, str] | None = None) -> Answer:
    """GET ``url`` within the budget, conditionally when ``validators`` are given."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
    if validators and validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators and validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FeedRefused(f"{url[:200]}: not a web address")
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, above
    opener = _PUBLIC_OPENER if budget.public_only else _OPENER
    try:
        response = opener.open(request, timeout=min(budget.left(), READ_TIMEOUT))
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return Answer(304, b"", error.headers.get("ETag"), error.headers.get("Last-Modified"))
        raise FeedRefused(f"{url}: HTTP {error.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        reason = getattr(error, "reason", error) or type(error).__name__
        raise FeedRefused(f"{url}: {reason}") from None
    with response:
        body = _read(response, url, budget)
        return Answer(
            response.status,
            body,
            response.headers.get("ETag"),
            response.headers.get("Last-Modified"),
        )


def _read(response: Any, url: str, budget: Budget) -> bytes:
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise FeedRefused(f"{url}: content encoding {encoding[:40]!r} is not gzip")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    chunks = []
    try:
        while True:
            budget.left()
            # read1: whatever one receive brings, so a dripping server meets the deadline.
            data = response.read1(CHUNK)
            if not data:
                break
            if inflate is not None:
                allowed = budget.max_bytes - budget.spent + 1
                data = inflate.decompress(data, allowed)
                if inflate.unconsumed_tail:
                    budget.spend(allowed)  # more than the budget: refused here
            budget.spend(len(data))
            chunks.append(data)
    except (OSError, http.client.HTTPException, zlib.error) as error:
        raise FeedRefused(f"{url}: {error}") from None
    if inflate is not None and not inflate.eof:
        raise FeedRefused(f"{url}: the gzip stream is cut short")
    return b"".join(chunks)
