"""The published documents in Redis: rebuilt at most once per interval, compressed once, and
dated by when their content last changed.

Aggregators poll every few minutes; rebuilding NDJSON per request would put that load on the
database. Instead one process rebuilds when the copy in Redis is older than the refresh
interval (the others keep serving the current copy), and every response comes from Redis.
Where workers run, they rebuild (a housekeeping job) and say so in Redis, and web requests only
serve the stored copy: at a million slots a rebuild takes minutes, longer than a web worker may
spend on one request. Without a worker that has rebuilt lately, the request that finds the copy
stale rebuilds it, as a single-process demo needs.

A rebuild compares each document with the stored one: an unchanged document keeps its body,
its gzip copy, its ETag and its ``Last-Modified`` (nothing is written), so an aggregator's
``If-None-Match`` and ``If-Modified-Since`` agree and both answer 304 until the content really
changes. A changed one is compressed once, here, and served compressed to every client that
accepts gzip. An index (a manifest) is dated by the last change of what it lists: its
``transactionTime`` and ``Last-Modified`` stay put while its files do.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)
PREFIX = "{fairslot:opendata}"
LOCK_SECONDS = 60
# A worker's rebuild may take minutes (145 s at a million slots): its lock outlasts that, so no
# request starts a second rebuild beside it.
WORKER_LOCK_SECONDS = 900
REBUILDER = f"{PREFIX}:rebuilder"
GZIP_LEVEL = 6  # zlib's default: nearly level 9's size for a fraction of its time on NDJSON
# What an index is rendered with to compare its content, whatever its date.
_UNDATED = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Document:
    """One representation of a published document (plain or gzipped) and its validators.

    ``etag`` is the plain body's; the gzip copy's is ``gzip_etag(etag)``. ``last_modified`` is
    None when the change time is unknown (built for one request while Redis is down): no
    ``Last-Modified`` is sent then, rather than a made-up one.
    """

    content: bytes
    gzipped: bool
    etag: str
    last_modified: datetime | None


@dataclass(frozen=True)
class Index:
    """A document that lists others (a manifest), rendered given when its content changed."""

    covers: tuple[str, ...]
    render: Callable[[datetime], bytes]


@dataclass(frozen=True)
class Build:
    """What one rebuild produces: plain documents, and indexes over them."""

    files: dict[str, bytes]
    indexes: dict[str, Index] = field(default_factory=dict)


def etag_of(body: bytes) -> str:
    """A strong ETag: a hash of the uncompressed body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def gzip_etag(etag: str) -> str:
    """The gzip copy's own strong ETag (another representation, so another tag)."""
    return etag[:-1] + '-gzip"'


def compress(body: bytes) -> bytes:
    """The body gzipped, the same bytes every time (no file name or time in the header)."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _signature(index: Index, files: Mapping[str, bytes]) -> str:
    """What an index's content depends on: its undated body and the files it lists."""
    digest = hashlib.sha256(index.render(_UNDATED))
    for key in index.covers:
        digest.update(etag_of(files.get(key, b"")).encode())
    return digest.hexdigest()[:32]


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


class Publisher:
    """Keeps the published documents in Redis, rebuilt at most once per refresh interval."""

    def __init__(self, redis: Any, refresh_seconds: int, lock_seconds: int = LOCK_SECONDS) -> None:
        self.redis = redis
        self.refresh_seconds = refresh_seconds
        self.lock_seconds = lock_seconds

    def mark_rebuilder(self, seconds: int) -> None:
        """Say that workers rebuild the documents, for the next ``seconds``."""
        self.redis.set(REBUILDER, 1, ex=max(1, seconds))

    def workers_rebuild(self) -> bool:
        """Whether a worker has rebuilt lately (so requests only serve what is stored)."""
        return bool(self.redis.exists(REBUILDER))

    def _stale(self, name: str, now: datetime) -> bool:
        built = self.redis.hget(f"{PREFIX}:meta:{name}", "built_at")
        return built is None or now.timestamp() - float(built) >= self.refresh_seconds

    def _previous(self, keys: list[str]) -> dict[str, tuple[str, datetime]]:
        """Each stored document's signature and change time."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(f"{PREFIX}:doc:{key}", "signature", "last_modified")
        found = {}
        for key, (signature, modified) in zip(keys, pipe.execute(), strict=True):
            if signature and modified:
                found[key] = (signature.decode(), datetime.fromisoformat(modified.decode()))
        return found

    def refresh(self, name: str, now: datetime, build: Callable[[], Build]) -> None:
        """Rebuild ``name``'s documents if stale and no other process is doing it."""
        if not self._stale(name, now):
            return
        has_copy = self.redis.exists(f"{PREFIX}:meta:{name}")
        locked = self.redis.set(f"{PREFIX}:lock:{name}", 1, nx=True, ex=self.lock_seconds)
        if not locked and has_copy:
            return  # someone else is rebuilding; serve the current copy meanwhile
        try:
            self._store(name, now, build())
        finally:
            self.redis.delete(f"{PREFIX}:lock:{name}")

    def _store(self, name: str, now: datetime, built: Build) -> None:
        moment = _second(now)
        previous = self._previous([*built.files, *built.indexes])
        changed: dict[str, tuple[bytes, str, datetime]] = {}
        for key, body in built.files.items():
            signature = etag_of(body)
            if previous.get(key, ("", moment))[0] != signature:
                changed[key] = (body, signature, moment)
        for key, index in built.indexes.items():
            signature = _signature(index, built.files)
            before = previous.get(key)
            if before is None or before[0] != signature:
                changed[key] = (index.render(moment), signature, moment)
        # The files first, each on its own (a day's file can be tens of megabytes: one
        # transaction of all of them outgrew what Redis takes in one go at a million slots);
        # then the indexes that list them, with the list of documents, at once.
        names = sorted([*built.files, *built.indexes])
        pipe = self.redis.pipeline(transaction=True)
        for key, (body, signature, modified) in changed.items():
            mapping = {
                "body": body,
                "gzip": compress(body),
                "etag": etag_of(body),
                "signature": signature,
                "last_modified": modified.isoformat(),
            }
            if key in built.indexes:
                pipe.hset(f"{PREFIX}:doc:{key}", mapping=mapping)
            else:
                self.redis.hset(f"{PREFIX}:doc:{key}", mapping=mapping)
        gone = set(self.names(name)) - set(names)
        pipe.hset(
            f"{PREFIX}:meta:{name}",
            mapping={"built_at": now.timestamp(), "documents": json.dumps(names)},
        )
        pipe.execute()
        for key in gone:  # no index lists them any more
            self.redis.delete(f"{PREFIX}:doc:{key}")

    def get(self, key: str, *, gzipped: bool) -> Document | None:
        """A stored document, plain or gzipped (only that copy is read), or None."""
        field = "gzip" if gzipped else "body"
        content, etag, modified = self.redis.hmget(
            f"{PREFIX}:doc:{key}", field, "etag", "last_modified"
        )
        if content is None and gzipped:  # a copy stored by a version that kept no gzip copy
            plain = self.redis.hget(f"{PREFIX}:doc:{key}", "body")
            content = compress(plain) if plain is not None else None
        if content is None or etag is None or modified is None:
            return None
        return Document(content, gzipped, etag.decode(), datetime.fromisoformat(modified.decode()))

    def names(self, name: str) -> list[str]:
        """The documents of a publication."""
        raw = self.redis.hget(f"{PREFIX}:meta:{name}", "documents")
        return json.loads(raw) if raw else []


def direct(built: Build, key: str, now: datetime, *, gzipped: bool) -> Document | None:
    """One document of a build made for this request only (Redis unavailable)."""
    log.warning("open data served uncached: Redis unavailable")
    if key in built.files:
        body = built.files[key]
    elif key in built.indexes:
        body = built.indexes[key].render(_second(now))
    else:
        return None
    return Document(compress(body) if gzipped else body, gzipped, etag_of(body), None)
