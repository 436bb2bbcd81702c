"""The admission controller's logic on a simulated clock (no Redis, no sleeps).

``Plant`` stands in for the booking path: every admitted resident makes ``REQUESTS`` booking
requests spread over the ``FUNNEL`` seconds after admission, and the path serves ``CAPACITY``
requests a second; past 95% of that, a growing share of requests is slower than the target.
So the admission rate the path can take is ``CAPACITY * 60 / REQUESTS`` per minute, and the
load answers a change of rate only over the funnel's length, as a real crowd does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import pytest

from admission import health
from admission.control import ControlConfig, ControlState, Decision, cut_rate, step, too_slow
from admission.health import WindowFigures

CAPACITY = 20.0  # booking requests per second the simulated path serves in time
REQUESTS = 5  # booking requests per admitted resident
FUNNEL = 30  # seconds over which an admitted resident makes them
FITS = CAPACITY * 60 / REQUESTS  # 240 admissions a minute
CONFIG = ControlConfig(enabled=True, min_per_minute=10, max_per_minute=10_000, target_ms=500)


def figures(requests: int, slow: int = 0, errors: int = 0, seconds: int = 10) -> WindowFigures:
    return WindowFigures(seconds, requests, errors, slow, 50 if requests else None, None)


class Plant:
    """The booking path's load and slowness, second by second."""

    def __init__(self) -> None:
        self.admitted: deque[float] = deque([0.0] * FUNNEL, maxlen=FUNNEL)
        self.seconds: deque[tuple[float, float]] = deque(maxlen=CONFIG.window_seconds)
        self.slow: list[bool] = []  # per second: more than 1% of its requests too slow

    def run_second(self, rate_per_minute: float) -> None:
        self.admit(rate_per_minute / 60)

    def admit(self, people: float) -> None:
        """Let ``people`` in this second and serve the second's booking requests."""
        self.admitted.append(people)
        load = sum(self.admitted) * REQUESTS / FUNNEL
        slow_share = min(1.0, max(0.0, (load - 0.95 * CAPACITY) / (0.2 * CAPACITY)))
        self.seconds.append((load, load * slow_share))
        self.slow.append(slow_share > 0.01)

    def window(self) -> WindowFigures:
        requests = round(sum(load for load, _ in self.seconds))
        slow = round(sum(slow for _, slow in self.seconds))
        return figures(requests, slow, seconds=CONFIG.window_seconds)


def drive(start_rate: float, seconds: int) -> tuple[list[float], Plant]:
    """Run plant and controller together from ``start_rate``; the rate at every second."""
    plant = Plant()
    state = ControlState.initial(int(start_rate), CONFIG, now=0.0)
    rates = []
    for t in range(1, seconds + 1):
        plant.run_second(state.rate)
        if t % CONFIG.step_seconds == 0:
            state = step(state, plant.window(), waiting=10_000, now=float(t), config=CONFIG)
        rates.append(state.rate)
    return rates, plant


def drive_with_demand(start_rate: float, demand: float, seconds: int) -> list[tuple[float, str]]:
    """As ``drive``, but only ``demand`` people a minute arrive: the rate binds only below it.

    The line admits as the queue's script does, while fewer than the rate were admitted in the
    last minute, and the controller sees the window's admissions as the queue logs them.
    """
    plant, state = Plant(), ControlState.initial(int(start_rate), CONFIG, now=0.0)
    waiting, log = 0.0, deque([0.0] * 60, maxlen=60)
    steps = []
    for t in range(1, seconds + 1):
        waiting += demand / 60
        people = min(waiting, max(0.0, state.rate - sum(log)))
        waiting -= people
        log.append(people)
        plant.admit(people)
        if t % CONFIG.step_seconds == 0:
            admitted = sum(list(log)[-CONFIG.window_seconds :]) * 60 / CONFIG.window_seconds
            state = step(
                state,
                plant.window(),
                waiting=round(waiting),
                now=float(t),
                config=CONFIG,
                admitted_per_minute=admitted,
            )
            steps.append((state.rate, str(state.decision)))
    return steps


def test_a_rate_far_above_the_arrivals_is_cut_from_what_was_admitted():
    # 10x too high, with three times what fits arriving: cutting the rate itself would take
    # four cuts (40 s) before one bound; cut from the admissions, the first one binds.
    steps = drive_with_demand(10 * FITS, 3 * FITS, 120)
    first_cut = next(rate for rate, decision in steps if decision == "cut")
    assert first_cut == pytest.approx(0.7 * 3 * FITS)
    rates = [rate for rate, _ in steps]
    assert max(rates[5:]) <= 1.2 * FITS  # what fits 30 s after the start (60 s from the rate)
    # Not asserted: the flood let in before the first cut keeps the path slow for the funnel's
    # length, so later cuts still undershoot (to about 0.2x of what fits in this plant, as
    # cutting from the rate alone does); the probe then climbs back additively.


@pytest.mark.parametrize(
    ("admitted", "cut_to"),
    [
        (3_600.0, 2_520.0),  # fewer arrived than the rate allowed: from the admissions
        (20_000.0, 7_000.0),  # more than the rate (it was just cut): from the rate
        (0.0, 7_000.0),  # nobody admitted in the window: nothing to go by but the rate
        (None, 7_000.0),
    ],
)
def test_a_cut_starts_from_the_lower_of_the_rate_and_the_admissions(admitted, cut_to):
    state = ControlState.initial(10_000, CONFIG, now=0.0)
    assert cut_rate(state, admitted) == pytest.approx(cut_to)
    stepped = step(
        state,
        figures(500, slow=400),
        waiting=0,
        now=5.0,
        config=CONFIG,
        admitted_per_minute=admitted,
    )
    assert (stepped.decision, stepped.rate) == (Decision.CUT, pytest.approx(cut_to))


def test_starting_ten_times_too_high_the_rate_comes_down_and_stays_near_what_fits():
    rates, plant = drive(10 * FITS, 600)
    assert max(rates[70:]) <= 1.2 * FITS  # down to what fits in about a minute
    last_five_minutes = rates[300:]
    assert min(last_five_minutes) >= 0.45 * FITS
    assert max(last_five_minutes) <= 1.1 * FITS
    assert sum(plant.slow[300:]) <= 30  # p99 over target in at most a tenth of the seconds


def test_starting_ten_times_too_low_the_rate_ramps_up_to_what_fits_within_a_minute():
    rates, plant = drive(FITS / 10, 600)
    first_near = next(t for t, rate in enumerate(rates) if rate >= 0.8 * FITS)
    assert first_near <= 60
    assert min(rates[120:]) >= 0.45 * FITS
    assert max(rates) <= 2 * FITS  # slow start overshoots (the funnel lags); cuts bring it back
    assert sum(rates[300:]) / 300 >= 0.7 * FITS  # on average close to what fits
    assert sum(plant.slow[300:]) <= 30


def test_a_cut_is_multiplicative_and_not_repeated_until_a_window_has_passed():
    state = ControlState.initial(1000, CONFIG, now=0.0)
    slow = figures(1000, slow=50)
    cut = step(state, slow, waiting=5, now=5.0, config=CONFIG)
    assert (cut.decision, cut.rate, cut.threshold, cut.cut_at) == (Decision.CUT, 700, 700, 5.0)
    held = step(cut, slow, waiting=5, now=10.0, config=CONFIG)
    assert (held.decision, held.rate) == (Decision.RECOVERING, 700)
    again = step(held, slow, waiting=5, now=15.0, config=CONFIG)
    assert (again.decision, round(again.rate)) == (Decision.CUT, 490)


def test_after_a_cut_the_rate_grows_additively_and_before_any_cut_multiplicatively():
    fast = figures(1000)
    start = ControlState.initial(100, CONFIG, now=0.0)
    grown = step(start, fast, waiting=5, now=5.0, config=CONFIG)
    assert (grown.decision, grown.rate) == (Decision.SLOW_START, 125)
    after_cut = replace(start, rate=400.0, threshold=400.0, cut_at=0.0)
    probed = step(after_cut, fast, waiting=5, now=5.0, config=CONFIG)
    assert (probed.decision, probed.rate) == (Decision.PROBE, 420)
    below = replace(after_cut, rate=200.0)
    assert step(below, fast, waiting=5, now=5.0, config=CONFIG).rate == 250


def test_nobody_waiting_holds_the_rate_so_it_does_not_wind_up_on_an_idle_path():
    state = ControlState.initial(100, CONFIG, now=0.0)
    for t in range(1, 100):
        state = step(state, figures(0), waiting=0, now=t * 5.0, config=CONFIG)
    assert (state.decision, state.rate) == (Decision.NO_DEMAND, 100)


def test_people_waiting_but_no_booking_requests_hold_the_rate_too():
    # Admission paused or off, or the path down: no evidence that more would be served.
    state = ControlState.initial(100, CONFIG, now=0.0)
    for t in range(1, 100):
        state = step(state, figures(0), waiting=500, now=t * 5.0, config=CONFIG)
    assert (state.decision, state.rate) == (Decision.NO_TRAFFIC, 100)


def test_the_rate_stays_within_the_bounds():
    config = ControlConfig(enabled=True, min_per_minute=50, max_per_minute=200)
    assert ControlState.initial(5, config, now=0).rate == 50
    assert ControlState.initial(5000, config, now=0).rate == 200
    state = ControlState.initial(190, config, now=0.0)
    state = step(state, figures(100), waiting=9, now=5.0, config=config)
    assert state.rate == 200
    state = step(state, figures(100), waiting=9, now=10.0, config=config)
    assert (state.decision, state.rate) == (Decision.AT_BOUND, 200)
    for t in range(3, 40):
        state = step(state, figures(100, slow=100), waiting=9, now=t * 10.0, config=config)
    assert state.rate == 50


@pytest.mark.parametrize(
    ("requests", "slow", "errors", "verdict"),
    [
        (1000, 10, 0, False),  # exactly 1%: the p99 is at the target
        (1000, 11, 0, True),
        (10, 1, 0, False),  # one slow request is not a trend
        (10, 2, 0, True),
        (100, 2, 2, True),  # errors count as slow
        (0, 0, 0, False),
    ],
)
def test_too_slow_means_more_than_one_percent_and_at_least_two(requests, slow, errors, verdict):
    assert too_slow(figures(requests, slow=slow, errors=errors)) is verdict


def test_the_window_counts_slow_requests_against_the_target_and_errors_as_slow():
    bands = health.bands_for(300)
    assert 300 in bands
    buckets = [
        {b"le25": b"90", b"le300": b"5"},
        {"le500": "3", "inf": "1", "err": "1", "junk": "7"},
    ]
    got = health.summarize(buckets, seconds=2, target_ms=300)
    assert (got.requests, got.errors, got.slow) == (100, 1, 5)
    assert (got.p50_ms, got.p99_ms) == (25, None)  # the 99th is an error: past every band
    assert health.summarize([], seconds=2, target_ms=300).p99_ms is None
    assert health.band_of(300, bands) == "le300" and health.band_of(300.5, bands) == "le500"
    assert health.band_of(10**9, bands) == "inf"


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        ControlConfig(min_per_minute=10, max_per_minute=5)
    with pytest.raises(ValueError):
        ControlConfig(min_per_minute=0)
    with pytest.raises(ValueError):
        ControlConfig(window_seconds=2, step_seconds=5)
