"""The load generator: virtual residents (asyncio + aiohttp) that behave like people.

Each one arrives on the curve, searches, joins the line (queue on), polls when told by
``poll_after_seconds``, is admitted, lists slots, holds one, fills in the form and confirms.
Some abandon while waiting or after holding (they release the hold), some refresh impatiently
every second. Errors (5xx, timeouts, refused connections) are retried by the person a few times,
then they give up. Users are spread over the app servers; a refused connection fails over to the
other server, as a load balancer would.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import aiohttp

from bench.data import SEARCH_ZIP, SERVICE

TIMEOUT_S = 10.0


@dataclass
class Behaviour:
    """Shares and timings of the crowd's behaviour."""

    impatient_share: float = 0.10
    abandon_wait_share: float = 0.05
    abandon_hold_share: float = 0.03
    think_s: tuple[float, float] = (2.0, 5.0)
    retry_s: tuple[float, float] = (2.0, 5.0)
    max_tries: int = 4
    patience_s: tuple[float, float] = (20.0, 90.0)


CACHE_ANSWERED = frozenset({"HIT", "STALE", "UPDATING"})


@dataclass
class Resident:
    """What happened to one virtual resident (times in seconds from the scenario start)."""

    index: int
    arrival: float
    outcome: str = "pending"  # booked | sold_out | abandoned | gave_up | pending
    outcome_at: float | None = None
    ticket: str | None = None
    joined_at: float | None = None
    admitted_at: float | None = None
    code: str | None = None
    second_code: str | None = None  # dose 2's, when the booking was a two-dose course
    contact: str = ""
    slot_id: int | None = None
    product: str | None = None


@dataclass
class Crowd:
    """Shared state of one scenario: servers, the record of requests and residents."""

    ports: list[int]
    queue_on: bool
    behaviour: Behaviour
    session: aiohttp.ClientSession
    start: float = field(default_factory=time.monotonic)
    requests: list[tuple[float, str, float, str, int]] = field(default_factory=list)
    residents: list[Resident] = field(default_factory=list)
    stop_at: float | None = None
    # Answers nginx gave from its cache (X-Cache-Status HIT, STALE or UPDATING), per step.
    cached: dict[str, int] = field(default_factory=dict)

    def now(self) -> float:
        """Seconds since the scenario started."""
        return time.monotonic() - self.start

    async def call(
        self, r: Resident, step: str, method: str, path: str, **kw: Any
    ) -> tuple[int, Any, dict[str, str]] | None:
        """One HTTP request, recorded; returns (status, json, headers) or None on failure."""
        port_index = r.index % len(self.ports)
        headers = {"X-Forwarded-For": _address(r.index), **kw.pop("headers", {})}
        for failover in range(len(self.ports)):
            port = self.ports[(port_index + failover) % len(self.ports)]
            t0 = self.now()
            try:
                async with self.session.request(
                    method, f"http://127.0.0.1:{port}{path}", headers=headers, **kw
                ) as resp:
                    body = await resp.json(content_type=None) if resp.content_length != 0 else None
                    status = resp.status
                    self.requests.append((t0, step, self.now() - t0, str(status), port))
                    if resp.headers.get("X-Cache-Status") in CACHE_ANSWERED:
                        self.cached[step] = self.cached.get(step, 0) + 1
                    return status, body, dict(resp.headers)
            except aiohttp.ClientConnectorError:
                # The balancer tries the other server: the user sees an error only if every
                # server refuses. A hidden failover is recorded, but not as an error.
                last = failover == len(self.ports) - 1
                kind = "refused" if last else "failover"
                self.requests.append((t0, step, self.now() - t0, kind, port))
                continue
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                kind = "timeout" if isinstance(exc, TimeoutError) else "error"
                self.requests.append((t0, step, self.now() - t0, kind, port))
                return None
        return None

    async def attempt(
        self, r: Resident, rng: random.Random, step: str, method: str, path: str, **kw: Any
    ) -> tuple[int, Any, dict[str, str]] | None:
        """Call, retrying as a person would after errors (5xx, timeouts); None when they give up."""
        for _ in range(self.behaviour.max_tries):
            result = await self.call(r, step, method, path, **dict(kw))
            if result is not None and result[0] < 500 and result[0] != 429:
                return result
            await asyncio.sleep(rng.uniform(*self.behaviour.retry_s))
        return None


def _address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _person(i: int, rng: random.Random) -> dict[str, Any]:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60))
    person: dict[str, Any] = {
        "first_name": f"Bench{i}",
        "last_name": f"Resident{i}",
        "date_of_birth": born.isoformat(),
        "resident": True,
    }
    if i % 5 == 4:
        person["phone"] = f"617{2000000 + i:07d}"[:10]
    else:
        person["email"] = f"resident{i}@bench.example"
    return person


def _done(crowd: Crowd, r: Resident, outcome: str) -> None:
    r.outcome = outcome
    r.outcome_at = crowd.now()


async def _wait_in_line(crowd: Crowd, r: Resident, rng: random.Random) -> str | None:
    """Join and poll until admitted; return the admission token, or None with an outcome set."""
    b = crowd.behaviour
    impatient = rng.random() < b.impatient_share
    patience = rng.uniform(*b.patience_s) if rng.random() < b.abandon_wait_share else None
    got = await crowd.attempt(r, rng, "join", "POST", "/api/v1/queue/tickets", json={})
    if got is None or got[0] != 201:
        _done(crowd, r, "gave_up")
        return None
    body = got[1]
    r.ticket, r.joined_at = body["ticket"], crowd.now()
    while body.get("state") != "admitted":
        if body.get("sold_out"):
            _done(crowd, r, "sold_out")
            return None
        if patience is not None and crowd.now() - r.joined_at > patience:
            _done(crowd, r, "abandoned")
            return None
        wait = float(body.get("poll_after_seconds") or 5)
        await asyncio.sleep(min(wait, 1.0) if impatient else wait)
        got = await crowd.attempt(
            r, rng, "queue_status", "GET", f"/api/v1/queue/tickets/{r.ticket}"
        )
        if got is None:
            _done(crowd, r, "gave_up")
            return None
        if got[0] == 404:  # lapsed: join again, as the page tells them to
            got = await crowd.attempt(r, rng, "join", "POST", "/api/v1/queue/tickets", json={})
            if got is None or got[0] != 201:
                _done(crowd, r, "gave_up")
                return None
            r.ticket = got[1]["ticket"]
        body = got[1]
    r.admitted_at = crowd.now()
    return str(body["admission_token"])


async def _book(crowd: Crowd, r: Resident, rng: random.Random, token: str | None) -> None:
    """Search, list slots, hold one, fill in, confirm (or learn it is sold out)."""
    b = crowd.behaviour
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    person = _person(r.index, rng)
    r.contact = person.get("email") or "+1" + person["phone"]
    for _round in range(3):
        got = await crowd.attempt(
            r,
            rng,
            "search",
            "GET",
            f"/api/v1/clinics?zip={SEARCH_ZIP}&radius_miles=30&service={SERVICE}",
        )
        if got is None:
            return _done(crowd, r, "gave_up")
        clinics = [c for c in got[1].get("clinics", []) if c.get("available_slots")]
        if not clinics:
            return _done(crowd, r, "sold_out")
        clinic = rng.choice(clinics[:5])
        day = (clinic.get("next_available") or "")[:10]
        got = await crowd.attempt(
            r,
            rng,
            "slots",
            "GET",
            f"/api/v1/clinics/{clinic['id']}/slots?date={day}&service={SERVICE}",
        )
        if got is None:
            return _done(crowd, r, "gave_up")
        # "Any COVID-19 vaccine": every product's free times; three in four places are of a
        # two-dose product (bench/data.py), whose dose 2 the confirm books at its default time.
        free = [s for s in got[1].get("slots", []) if s.get("available")]
        rng.shuffle(free)
        for slot in free[:3]:
            hold = await crowd.attempt(
                r,
                rng,
                "hold",
                "POST",
                "/api/v1/holds",
                json={"slot_id": slot["id"]},
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            if hold is None:
                return _done(crowd, r, "gave_up")
            if hold[0] == 201:
                auth = _renewed(auth, hold[2])
                r.product = (slot.get("vaccine") or {}).get("product")
                await _fill_in_and_confirm(crowd, r, rng, hold[1]["hold_id"], person, auth)
                r.slot_id = slot["id"]
                return None
        await asyncio.sleep(rng.uniform(*b.think_s) / 2)
    return _done(crowd, r, "sold_out")


def _renewed(auth: dict[str, str], headers: dict[str, str]) -> dict[str, str]:
    token = headers.get("X-Admission-Token")
    return {"Authorization": f"Bearer {token}"} if token and auth else auth


async def _fill_in_and_confirm(
    crowd: Crowd,
    r: Resident,
    rng: random.Random,
    hold_id: str,
    person: dict[str, Any],
    auth: dict[str, str],
) -> None:
    b = crowd.behaviour
    await asyncio.sleep(rng.uniform(*b.think_s))
    if rng.random() < b.abandon_hold_share:
        await crowd.call(r, "release", "DELETE", f"/api/v1/holds/{hold_id}")
        return _done(crowd, r, "abandoned")
    got = await crowd.attempt(
        r, rng, "confirm", "POST", f"/api/v1/holds/{hold_id}/confirm", json=person, headers=auth
    )
    if got is not None and got[0] == 201:
        r.code = got[1]["confirmation_code"]
        r.second_code = (got[1].get("second_dose") or {}).get("confirmation_code")
        return _done(crowd, r, "booked")
    return _done(crowd, r, "gave_up" if got is None else "sold_out")


async def _resident(crowd: Crowd, r: Resident, seed: int) -> None:
    rng = random.Random(seed * 1_000_003 + r.index)
    await asyncio.sleep(max(0.0, r.arrival - crowd.now()))
    if crowd.stop_at is not None and crowd.now() > crowd.stop_at:
        return
    token = None
    if crowd.queue_on:
        token = await _wait_in_line(crowd, r, rng)
        if token is None:
            return
    await _book(crowd, r, rng, token)


async def run_crowd(
    ports: list[int],
    arrivals: list[float],
    *,
    queue_on: bool,
    behaviour: Behaviour,
    seed: int = 6,
    deadline_s: float = 600.0,
    first_index: int = 0,
) -> tuple[Crowd, dict[str, float]]:
    """Let the crowd arrive and run to the end; return it and the generator's own CPU use."""
    connector = aiohttp.TCPConnector(limit=2000, force_close=True)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        crowd = Crowd(ports=ports, queue_on=queue_on, behaviour=behaviour, session=session)
        crowd.residents = [Resident(first_index + i, t) for i, t in enumerate(arrivals)]
        cpu0, wall0 = time.process_time(), time.monotonic()
        tasks = [asyncio.create_task(_resident(crowd, r, seed)) for r in crowd.residents]
        _done_tasks, pending = await asyncio.wait(tasks, timeout=deadline_s)
        for task in pending:
            task.cancel()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return crowd, {"cpu_s": cpu, "wall_s": wall, "cpu_share_of_one_core": cpu / wall}


async def closed_loop(
    make_request: Any, *, concurrency: int, duration_s: float
) -> dict[str, float]:
    """``concurrency`` loops calling ``make_request(session, i)`` back to back for duration_s.

    make_request returns True for a success. Returns successes per second, errors, and the
    generator's CPU share.
    """
    connector = aiohttp.TCPConnector(limit=concurrency * 2, force_close=True)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    ok = errors = 0
    counter = iter(range(10**9))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        end = time.monotonic() + duration_s

        async def loop() -> None:
            nonlocal ok, errors
            while time.monotonic() < end:
                try:
                    if await make_request(session, next(counter)):
                        ok += 1
                    else:
                        errors += 1
                except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
                    errors += 1

        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return {"per_s": ok / wall, "ok": ok, "errors": errors, "cpu_share_of_one_core": cpu / wall}
